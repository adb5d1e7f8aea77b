"""The native obskit spec (one service per document) → the model.

The no-PromQL SLI kinds are built here from :mod:`obskit.conventions` names only, with every
spec value checked by :mod:`obskit.slo._promql` and escaped into its matcher.  See
``docs/slo-spec.md`` for the format.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, Final

from prometheus_client.utils import floatToGoString

from obskit import conventions as c
from obskit.slo._checks import (
    alert_name,
    check_alert_name,
    check_duration,
    check_group_by,
    check_labels,
    check_name,
    check_objective,
    check_period,
    check_template,
    check_unique_names,
    good_to_errors,
    one_series,
)
from obskit.slo._model import SLI, SLO, WINDOW_PLACEHOLDER, Alerting, Service, Source
from obskit.slo._policy import merge_policies, parse_policy
from obskit.slo._promql import (
    grouped_sum,
    label_name_problem,
    matchers,
    parse_query,
    regex_alternation,
    string_literal,
    sum_prefix,
    value_problem,
)
from obskit.slo._yaml import Document, Path

__all__ = [
    "ALERTING_KEYS",
    "KINDS",
    "SERVICE_KEYS",
    "SEVERITY_KEYS",
    "SLI_KEYS",
    "SLO_KEYS",
    "load_native",
]

SERVICE_KEYS: Final = ("service", "labels", "selector", "policy", "slos")
SLO_KEYS: Final = (
    "name", "description", "objective", "period", "labels", "sli", "alerting", "policy",
)  # fmt: skip
KINDS: Final = ("availability", "latency", "operation", "ratio")
SLI_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "availability": ("routes", "methods", "errors", "group_by"),
    "latency": ("threshold", "routes", "methods", "successful_only", "group_by"),
    "operation": ("name", "group_by"),
    "ratio": ("errors", "good", "total", "group_by"),
}
#: Per kind, the labels its SLI tells good from bad events by: never a grouping label.
_SLI_LABELS: Final[dict[str, tuple[str, ...]]] = {
    "availability": (c.LABEL_STATUS,),
    "latency": ("le", c.LABEL_STATUS),
    "operation": (c.LABEL_OUTCOME,),
    "ratio": (),
}
ALERTING_KEYS: Final = (
    "name",
    "labels",
    "annotations",
    "runbook_url",
    "min_events",
    "page",
    "ticket",
)
SEVERITY_KEYS: Final = ("for", "labels", "annotations")
_DEFAULT_FOR: Final = {"page": "2m", "ticket": "15m"}
_STATUS_RE: Final = re.compile(r"([1-5])(xx|\d\d)\Z")
_METHODS: Final = frozenset(c.STANDARD_METHODS | {c.METHOD_OTHER})
#: prometheus-client's own float spelling for ``le`` (untyped upstream, hence the alias).
_go_float: Final[Callable[[float], str]] = floatToGoString


def load_native(doc: Document) -> Service | None:
    """Translate one native document; problems are recorded on ``doc``."""
    top = doc.mapping((), SERVICE_KEYS, required=("service", "slos"))
    if top is None:
        return None
    service = _check_service_name(doc)
    labels = check_labels(doc, ("labels",))
    selector = _selector(doc, service)
    policy = parse_policy(doc, ("policy",))
    slos_value = doc.get(("slos",))
    if slos_value is not None and (not isinstance(slos_value, list) or not slos_value):
        doc.error(("slos",), "must be a non-empty list of SLOs")
        return None
    slos: list[SLO] = []
    for i in range(len(slos_value or ())):
        slo = _slo(doc, ("slos", i), service or "", labels, selector, policy or {})
        if slo is not None:
            slos.append(slo)
    check_unique_names(doc, ("slos",))
    if service is None or doc.errors:
        return None
    return Service(
        name=service,
        slos=tuple(slos),
        source=Source(doc.path, doc.line),
        selector=selector,
        labels=labels,
    )


def _check_service_name(doc: Document) -> str | None:
    name = check_name(doc, ("service",))
    if name is not None and (problem := value_problem(name)):
        doc.error(("service",), problem)
        return None
    return name


def _selector(doc: Document, service: str | None) -> tuple[tuple[str, str], ...]:
    """The service's own series: ``job="<service>"`` unless the spec says otherwise."""
    if doc.get(("selector",)) is None:
        return (("job", service),) if service else ()
    pairs = doc.string_map(("selector",))
    if not pairs and isinstance(doc.get(("selector",)), dict):
        doc.error(("selector",), "must not be empty (leave it out to select job=<service>)")
    out: list[tuple[str, str]] = []
    for name, value in pairs.items():
        problem = _selector_name_problem(name) or value_problem(value)
        if problem:
            doc.error(("selector", name), problem)
        elif not value:
            doc.error(("selector", name), "must not be empty")
        else:
            out.append((name, value))
    return tuple(out)


def _selector_name_problem(name: str) -> str | None:
    problem = label_name_problem(name)
    if problem is None and name in (c.LABEL_ROUTE, c.LABEL_METHOD, c.LABEL_STATUS, "le"):
        return f"{name!r} is set by the SLI itself; select the service by its own labels"
    return problem


def _slo(
    doc: Document,
    path: Path,
    service: str,
    service_labels: dict[str, str],
    selector: tuple[tuple[str, str], ...],
    service_policy: dict[str, Any],
) -> SLO | None:
    if doc.mapping(path, SLO_KEYS, required=("name", "objective", "sli")) is None:
        return None
    name = check_name(doc, (*path, "name"))
    objective = check_objective(
        doc, (*path, "objective"), doc.number((*path, "objective"), required=True)
    )
    period = check_period(doc, (*path, "period"))
    description = doc.string((*path, "description")) or ""
    labels = {**service_labels, **check_labels(doc, (*path, "labels"))}
    sli = _sli(doc, (*path, "sli"), selector, (*labels, *_alert_label_names(doc, path)))
    alerting = _alerting(doc, (*path, "alerting"), alert_name(service, name or ""))
    own_policy = parse_policy(doc, (*path, "policy"))
    policy = (
        merge_policies(doc, (*path, "policy"), service_policy, own_policy)
        if own_policy is not None
        else None
    )
    if name is None or objective is None or period is None or sli is None or alerting is None:
        return None
    return SLO(
        service=service,
        name=name,
        objective=objective,
        period_days=period,
        sli=sli,
        alerting=alerting,
        source=Source(doc.path, doc.line_of(path)),
        description=description,
        labels=labels,
        policy=policy,
    )


def _alert_label_names(doc: Document, path: Path) -> list[str]:
    """Names of the labels ``alerting`` sets (checked by :func:`_alerting` itself)."""
    names: list[str] = []
    for where in (("labels",), ("page", "labels"), ("ticket", "labels")):
        value = doc.get((*path, "alerting", *where)) if isinstance(doc.get(path), dict) else None
        if isinstance(value, dict):
            names += [k for k in value if isinstance(k, str)]
    return names


# -- SLIs ------------------------------------------------------------------------------------


def _sli(
    doc: Document, path: Path, selector: tuple[tuple[str, str], ...], static: tuple[str, ...]
) -> SLI | None:
    value = doc.mapping(path, KINDS)
    if value is None:
        return None
    kinds = [k for k in KINDS if k in value]
    if len(kinds) != 1:
        doc.error(path, "must have exactly one of: " + ", ".join(KINDS))
        return None
    kind = kinds[0]
    kind_path = (*path, kind)
    body = doc.mapping(kind_path, SLI_KEYS[kind], optional=True)
    if body is None and doc.get(kind_path) is not None:
        return None
    base = [(k, "=", string_literal(v)) for k, v in selector]
    by = check_group_by(doc, (*kind_path, "group_by"), static=static, sli_labels=_SLI_LABELS[kind])
    if by is None:
        return None
    if kind == "ratio":
        sli = _ratio(doc, kind_path, body or {}, by)
    elif kind == "operation":
        sli = _operation(doc, kind_path, base, by)
    elif kind == "availability":
        sli = _availability(doc, kind_path, _http_matchers(doc, kind_path, base), by)
    else:
        sli = _latency(doc, kind_path, _http_matchers(doc, kind_path, base), by)
    return None if sli is None else dataclasses.replace(sli, group_by=by)


def _rate(metric: str, pairs: list[tuple[str, str, str]], by: tuple[str, ...]) -> str:
    return grouped_sum(f"rate({metric}{{{matchers(pairs)}}}[{WINDOW_PLACEHOLDER}])", by)


def _http_matchers(
    doc: Document, path: Path, base: list[tuple[str, str, str]]
) -> list[tuple[str, str, str]] | None:
    """Selector plus the optional ``routes`` and ``methods`` narrowing."""
    pairs = list(base)
    ok = True
    routes = doc.string_list((*path, "routes"))
    if routes:
        for i, route in enumerate(routes):
            if problem := value_problem(route):
                doc.error((*path, "routes", i), problem)
                ok = False
        if len(routes) == 1:
            pairs.append((c.LABEL_ROUTE, "=", string_literal(routes[0])))
        else:
            pairs.append((c.LABEL_ROUTE, "=~", regex_alternation(routes)))
    methods = doc.string_list((*path, "methods"))
    if methods:
        for i, method in enumerate(methods):
            if method not in _METHODS:
                doc.error(
                    (*path, "methods", i),
                    f"unknown HTTP method {method!r}: use one of " + ", ".join(sorted(_METHODS)),
                )
                ok = False
        if len(methods) == 1:
            pairs.append((c.LABEL_METHOD, "=", string_literal(methods[0])))
        else:
            pairs.append((c.LABEL_METHOD, "=~", string_literal("|".join(methods))))
    return pairs if ok else None


def _status_regex(doc: Document, path: Path) -> tuple[str, str] | None:
    """``errors: ["5xx", "429"]`` → (``5..|429``, ``5xx or 429 responses``)."""
    codes = doc.string_list(path) or ["5xx"]
    parts: list[str] = []
    for i, code in enumerate(codes):
        match = _STATUS_RE.match(code)
        if match is None:
            doc.error((*path, i), f"{code!r} is not a status code (e.g. 503) or class (e.g. 5xx)")
            return None
        regex = match.group(1) + (".." if match.group(2) == "xx" else match.group(2))
        if regex not in parts:
            parts.append(regex)
    return "|".join(parts), " or ".join(codes) + " responses"


def _availability(
    doc: Document, path: Path, pairs: list[tuple[str, str, str]] | None, by: tuple[str, ...]
) -> SLI | None:
    status = _status_regex(doc, (*path, "errors"))
    if status is None or pairs is None:
        return None
    errors = [*pairs, (c.LABEL_STATUS, "=~", string_literal(status[0]))]
    return SLI(
        kind="availability",
        error_query=_rate(c.HTTP_DURATION_COUNT, errors, by),
        total_query=_rate(c.HTTP_DURATION_COUNT, pairs, by),
        description=status[1],
    )


def _latency(
    doc: Document, path: Path, pairs: list[tuple[str, str, str]] | None, by: tuple[str, ...]
) -> SLI | None:
    threshold = doc.number((*path, "threshold"), required=True)
    if threshold is None:
        return None
    boundaries = c.buckets()
    if threshold not in boundaries:
        doc.error(
            (*path, "threshold"),
            f"{threshold:g} s is not a bucket boundary of {c.HTTP_DURATION}; valid thresholds "
            "(seconds): " + ", ".join(f"{b:g}" for b in boundaries),
        )
        return None
    if pairs is None:
        return None
    # `le` must be spelled exactly as prometheus-client writes it (0.5 → "0.5", 1 → "1.0").
    le = _go_float(threshold)
    good = [*pairs, ("le", "=", string_literal(le))]
    text = f"requests slower than {threshold:g} s"
    if doc.boolean((*path, "successful_only"), False):
        # A fast 5xx is not a good event: it counts against the latency SLO too.
        good.append((c.LABEL_STATUS, "!~", string_literal("5..")))
        text += " or failed (5xx)"
    total = _rate(c.HTTP_DURATION_COUNT, pairs, by)
    return SLI(
        kind="latency",
        error_query=f"{total} - {_rate(c.HTTP_DURATION_BUCKET, good, by)}",
        total_query=total,
        description=text,
    )


def _operation(
    doc: Document, path: Path, base: list[tuple[str, str, str]], by: tuple[str, ...]
) -> SLI | None:
    name = doc.string((*path, "name"), required=True)
    if name is None:
        return None
    if problem := value_problem(name):
        doc.error((*path, "name"), problem)
        return None
    pairs = [*base, (c.LABEL_OPERATION, "=", string_literal(name))]
    errors = [*pairs, (c.LABEL_OUTCOME, "=", string_literal(c.OUTCOME_ERROR))]
    return SLI(
        kind="operation",
        error_query=_rate(c.OPERATION_DURATION_COUNT, errors, by),
        total_query=_rate(c.OPERATION_DURATION_COUNT, pairs, by),
        description=f"failed {name} operations",
    )


def _ratio(doc: Document, path: Path, body: dict[str, Any], by: tuple[str, ...]) -> SLI | None:
    has_errors, has_good = "errors" in body, "good" in body
    if has_errors == has_good:
        doc.error(path, "needs exactly one of 'errors' or 'good' (plus 'total')")
        return None
    total = check_template(doc, (*path, "total"))
    which = "errors" if has_errors else "good"
    query = check_template(doc, (*path, which))
    if total is None or query is None:
        return None
    if by:
        total = _keeps_groups(doc, (*path, "total"), total, by)
        query = _keeps_groups(doc, (*path, which), query, by)
        if total is None or query is None:
            return None
        errors = query if has_errors else f"{total} - {query}"
        return SLI(kind="ratio", error_query=errors, total_query=total)
    errors = one_series(query) if has_errors else good_to_errors(total, query)
    return SLI(kind="ratio", error_query=errors, total_query=one_series(total))


def _keeps_groups(doc: Document, path: Path, query: str, by: tuple[str, ...]) -> str | None:
    """``query`` summed by the grouping labels; an error when its own top-level aggregation
    (``sum(…)``, ``sum by (other) (…)``) already dropped one of them.  obskit cannot see
    deeper: a query must keep the group labels wherever it aggregates (docs/slo-spec.md)."""
    kept = parse_query(query).kept
    if kept is not None and not set(by) <= set(kept):
        missing = ", ".join(n for n in by if n not in kept)
        doc.error(
            path,
            f"the query's aggregation drops the group_by label(s) {missing}: write "
            f"sum by ({', '.join(by)}) (…) or leave the aggregation out (obskit sums by them)",
        )
        return None
    if kept == by and query.startswith(sum_prefix(by)):
        return query  # already summed by exactly the group labels
    return grouped_sum(query, by)


# -- alerting ---------------------------------------------------------------------------------


def _alerting(doc: Document, path: Path, default_name: str) -> Alerting | None:
    body = doc.mapping(path, ALERTING_KEYS, optional=True)
    if body is None:
        return None if doc.get(path) is not None else Alerting(name=default_name)
    name = check_alert_name(doc, (*path, "name")) or default_name
    min_events = doc.number((*path, "min_events"))
    if min_events is not None and min_events < 0:
        doc.error((*path, "min_events"), "must be 0 or more")
        min_events = None
    severities: dict[str, tuple[bool, str, dict[str, str], dict[str, str]]] = {}
    for severity in ("page", "ticket"):
        severities[severity] = _severity(doc, (*path, severity), _DEFAULT_FOR[severity])
    page, ticket = severities["page"], severities["ticket"]
    return Alerting(
        name=name,
        page=page[0],
        ticket=ticket[0],
        labels=check_labels(doc, (*path, "labels")),
        page_labels=page[2],
        ticket_labels=ticket[2],
        annotations=check_labels(doc, (*path, "annotations"), values_safe=False),
        page_annotations=page[3],
        ticket_annotations=ticket[3],
        runbook_url=doc.string((*path, "runbook_url")),
        page_for=page[1],
        ticket_for=ticket[1],
        min_events=min_events or 0.0,
    )


def _severity(
    doc: Document, path: Path, default_for: str
) -> tuple[bool, str, dict[str, str], dict[str, str]]:
    """``page: false`` | ``page: {for, labels, annotations}`` → (enabled, for, labels, ann.)."""
    value = doc.get(path)
    if value is None or isinstance(value, bool):
        return (value is not False, default_for, {}, {})
    if doc.mapping(path, SEVERITY_KEYS) is None:
        return (True, default_for, {}, {})
    return (
        True,
        check_duration(doc, (*path, "for"), default_for),
        check_labels(doc, (*path, "labels")),
        check_labels(doc, (*path, "annotations"), values_safe=False),
    )
