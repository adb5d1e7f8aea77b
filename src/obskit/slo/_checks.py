"""Field checks shared by the native, Sloth and OpenSLO loaders.

Each check records its problems on the :class:`~obskit.slo._yaml.Document` and returns a
usable value or ``None``, so a file with several mistakes reports all of them at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Final

from obskit.slo._promql import (
    QueryInfo,
    group_by_problem,
    has_window,
    label_name_problem,
    name_problem,
    normalise_window,
    parse_query,
    value_problem,
)
from obskit.slo._yaml import Document, Path

__all__ = [
    "DEFAULT_PERIOD_DAYS",
    "alert_name",
    "check_alert_name",
    "check_duration",
    "check_group_by",
    "check_labels",
    "check_name",
    "check_objective",
    "check_period",
    "check_template",
    "check_unique_names",
    "good_to_errors",
    "objective_from_ratio",
    "one_series",
]

DEFAULT_PERIOD_DAYS: Final = 30
_DURATION_RE: Final = re.compile(r"(?:\d+(?:ms|[smhdwy]))+\Z")
_PERIOD_RE: Final = re.compile(r"(\d+)([smhdw])\Z")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_WORD_RE: Final = re.compile(r"[A-Za-z0-9]+")


def check_name(doc: Document, path: Path, *, required: bool = True) -> str | None:
    """A service or SLO name (safe in file names, alert names and PromQL strings)."""
    name = doc.string(path, required=required)
    if name is None:
        return None
    problem = name_problem(name)
    if problem:
        doc.error(path, problem)
        return None
    return name


def check_objective(doc: Document, path: Path, value: float | None) -> float | None:
    """An objective in percent, strictly between 0 and 100, kept exactly as written."""
    if value is None:
        return None
    if value <= 0:
        doc.error(path, "must be above 0 (it is a percentage, e.g. 99.9)")
        return None
    if value >= 100:
        doc.error(path, "must be below 100: a 100 % objective leaves no error budget")
        return None
    return value


def objective_from_ratio(doc: Document, path: Path, value: float | None) -> float | None:
    """An OpenSLO ``target`` ratio (0.999) as a percentage (99.9), without float noise."""
    if value is None:
        return None
    if not 0 < value < 1:
        doc.error(path, "must be a ratio strictly between 0 and 1 (e.g. 0.999)")
        return None
    return float(Decimal(repr(value)) * 100)


def check_period(doc: Document, path: Path) -> int | None:
    """A period such as ``30d`` or ``4w``: a whole number of days, at least one."""
    value = doc.get(path)
    if value is None:
        return DEFAULT_PERIOD_DAYS
    match = _PERIOD_RE.match(value) if isinstance(value, str) else None
    if match is None:
        doc.error(path, f"must be a duration in days such as 30d or 4w, not {value!r}")
        return None
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds == 0 or seconds % 86400:
        doc.error(path, f"{value} is not a whole number of days (e.g. 7d, 28d, 30d)")
        return None
    return seconds // 86400


def check_duration(doc: Document, path: Path, default: str) -> str:
    """A Prometheus ``for:`` duration; ``0`` or ``0s`` means no ``for:`` (empty string)."""
    value = doc.get(path)
    if value is None:
        return default
    if not isinstance(value, bool) and (value == 0 or value in ("0", "0s", "0m")):
        return ""
    if not isinstance(value, str) or not _DURATION_RE.match(value):
        doc.error(path, f"must be a Prometheus duration such as 2m or 1h, not {value!r}")
        return default
    return value


def check_labels(
    doc: Document, path: Path, *, values_safe: bool = True, as_written: bool = False
) -> dict[str, str]:
    """A label (or annotation) mapping: valid names, and values safe inside PromQL strings.

    ``as_written`` turns booleans and numbers into their source text, as Sloth's YAML loader
    does (``generated: true`` → ``"true"``).
    """
    labels = doc.string_map(path, as_written=as_written)
    out: dict[str, str] = {}
    for name, value in labels.items():
        problem = label_name_problem(name)
        if problem is None and values_safe:
            problem = value_problem(value)
        if problem:
            doc.error((*path, name), problem)
        else:
            out[name] = value
    return out


def check_alert_name(doc: Document, path: Path) -> str | None:
    """An explicit alert name (kept exactly as written, so Alertmanager routes still match)."""
    name = doc.string(path)
    if name is None:
        return None
    problem = value_problem(name)
    if problem:
        doc.error(path, problem)
        return None
    return name


def alert_name(service: str, slo: str) -> str:
    """The default alert name: ``checkout`` + ``availability`` → ``CheckoutAvailabilityBudgetBurn``.

    Stable (depends only on the two names) and a valid metric-style identifier.
    """
    service_words, slo_words = _WORD_RE.findall(service), _WORD_RE.findall(slo)
    if slo_words[: len(service_words)] == service_words:  # web + web-availability: say it once
        slo_words = slo_words[len(service_words) :]
    words = service_words + slo_words
    name = "".join(w[:1].upper() + w[1:] for w in words) + "BudgetBurn"
    return name if name[:1].isalpha() else "Slo" + name


def check_group_by(
    doc: Document,
    path: Path,
    *,
    static: Iterable[str] = (),
    sli_labels: Iterable[str] = (),
) -> tuple[str, ...] | None:
    """Grouping labels (Pyrra's ``grouping``, the native ``group_by``): label names, each once,
    sorted (as Pyrra sorts them); ``()`` when absent or empty, ``None`` after an error.

    ``static`` are the labels the SLO writes on its series and alerts itself (a group label of
    the same name would be overwritten); ``sli_labels`` those the SLI's own matchers tell good
    from bad events by (``le``, a status code): grouping by one of them splits good and bad
    events into different groups, so no group has a meaningful ratio.
    """
    value = doc.get(path)
    if value is None or value == []:
        return ()
    names = doc.string_list(path)
    if names is None:
        return None
    static, sli_labels = set(static), set(sli_labels)
    ok = True
    for i, name in enumerate(names):
        problem = group_by_problem(name)
        if problem is None and name in static:
            problem = (
                f"{name!r} is also a label this SLO sets on every series and alert (labels, "
                "alerting labels, or the SLO's own): rename one of them"
            )
        if problem is None and name in sli_labels:
            problem = (
                f"{name!r} is what the SLI tells good from bad events by: grouping by it would "
                "put good and bad events in different groups"
            )
        if problem:
            doc.error((*path, i), problem)
            ok = False
    return tuple(sorted(set(names))) if ok else None


def check_template(doc: Document, path: Path, *, window: bool = True) -> str | None:
    """A PromQL query template: normalised placeholder, placeholder present, parses."""
    query = doc.string(path, required=True)
    if query is None:
        return None
    query = normalise_window(query)
    if window and not has_window(query):
        doc.error(
            path,
            "query must contain the window placeholder {{.window}} "
            "(e.g. rate(x[{{.window}}])), so obskit can evaluate it over every alert window",
        )
        return None
    info = parse_query(query)
    if info.problem:
        doc.error(path, info.problem)
        return None
    return query


def one_series(query: str, info: QueryInfo | None = None) -> str:
    """``query`` as an expression of exactly one series: wrapped in ``sum()`` unless it is one."""
    info = info or parse_query(query)
    return query if info.single_sum else f"sum({query})"


def good_to_errors(total: str, good: str) -> str:
    """Errors from good events: ``total - good``, each side summed to a single series."""
    return f"{one_series(total)} - {one_series(good)}"


def check_unique_names(doc: Document, path: Path) -> None:
    """Each SLO name once per service (they name recorded series and alerts)."""
    first: dict[str, int] = {}
    for i, value in enumerate(doc.get(path) or ()):
        name = value.get("name") if isinstance(value, dict) else None
        if not isinstance(name, str):
            continue
        where = (*path, i, "name")
        if name in first:
            doc.error(where, f"duplicate SLO name {name!r} (first defined at line {first[name]})")
        else:
            first[name] = doc.line_of(where)
