"""Pyrra ``pyrra.dev/v1alpha1`` ``ServiceLevelObjective`` files → the model.

Read as Pyrra reads them (its ``kubernetes/api/v1alpha1`` types): ``spec.target`` is a
percentage written as a string, ``spec.window`` a Prometheus duration, ``spec.indicator`` exactly
one of ``ratio``, ``latency``, ``latencyNative`` or ``bool_gauge`` whose metrics are plain
selectors (Pyrra applies ``rate()`` — or ``count_over_time``/``sum_over_time`` for a boolean
gauge — itself).  Labels and annotations under the ``pyrra.dev/`` prefix are propagated to the
generated rules with the prefix removed, like Pyrra does, and every series carries Pyrra's
``slo="<name>"`` label so queries and routes written for Pyrra keep matching.

``indicator.<kind>.grouping`` evaluates the SLO per value of the labels, as Pyrra does: every
rate is ``sum by (labels)`` (Pyrra's ``sum by (grouping)``) and the rules keep them.

Which obskit service an SLO belongs to: the ``pyrra.dev/service`` label if set, else the
object's namespace, else its name.  Objects of one service may sit in many files.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

from obskit.slo._checks import check_alert_name, check_group_by, check_objective
from obskit.slo._model import SLI, SLO, WINDOW_PLACEHOLDER, Alerting, Service, Source
from obskit.slo._promql import (
    grouped_sum,
    label_name_problem,
    name_problem,
    parse_query,
    value_problem,
)
from obskit.slo._yaml import Document, Path

__all__ = ["PYRRA_API", "load_pyrra"]

PYRRA_API: Final = "pyrra.dev/v1alpha1"
_KIND: Final = "ServiceLevelObjective"
#: Pyrra's propagation prefix (``slo.PropagationLabelsPrefix``).
_PROPAGATE: Final = "pyrra.dev/"
#: The label naming the obskit service (obskit's own addition to Pyrra's vocabulary).
_SERVICE_LABEL: Final = _PROPAGATE + "service"
#: Pyrra's default alert name (``defaultAlertname``): routes written for Pyrra match on it.
_DEFAULT_ALERT: Final = "ErrorBudgetBurn"
#: Pyrra's own label on every recording and alert: the SLO's name.
_SLO_LABEL: Final = "slo"

_TOP_KEYS: Final = ("apiVersion", "kind", "metadata", "spec", "status")
# Kubernetes ObjectMeta: everything but name/namespace/labels/annotations is server-side state.
_METADATA_KEYS: Final = (
    "name",
    "namespace",
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generateName",
    "selfLink",
    "ownerReferences",
    "finalizers",
    "managedFields",
)
_SPEC_KEYS: Final = (
    "description",
    "target",
    "window",
    "indicator",
    "alerting",
    "partial_response_strategy",
)
_INDICATORS: Final = ("ratio", "latency", "latencyNative", "bool_gauge")
_INDICATOR_KEYS: Final = {
    "ratio": ("errors", "total", "grouping"),
    "latency": ("success", "total", "grouping"),
    "latencyNative": ("total", "latency", "grouping"),
    "bool_gauge": ("metric", "grouping"),
}
_ALERTING_KEYS: Final = ("disabled", "burnrates", "absent", "name", "absentName", "burnRateType")
_DURATION_RE: Final = re.compile(r"(?:(\d+)(ms|y|w|d|h|m|s))")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_UNIT_SECONDS["y"] = 365 * 86400


def load_pyrra(doc: Document) -> Service | None:
    """Translate one ``ServiceLevelObjective`` into a one-SLO service (errors on ``doc``)."""
    if doc.mapping((), _TOP_KEYS, required=("metadata", "spec")) is None:
        return None
    if doc.get(("kind",)) != _KIND:
        doc.error(("kind",), f"must be {_KIND} for apiVersion {PYRRA_API}")
        return None
    if doc.mapping(("metadata",), _METADATA_KEYS, required=("name",)) is None:
        return None
    name = _k8s_name(doc, ("metadata", "name"))
    service = _service(doc, name)
    if "latency" in (doc.get(("spec",)) or {}):
        # Pyrra's examples/nginx.yaml carries it; Pyrra ignores it, obskit says why instead.
        doc.error(
            ("spec", "latency"),
            "unknown key (Pyrra ignores it too): the threshold is the le=… matcher of "
            "indicator.latency.success.metric; remove it",
        )
    allowed = (*_SPEC_KEYS, "latency")
    if doc.mapping(("spec",), allowed, required=("target", "window", "indicator")) is None:
        return None
    objective = _target(doc)
    period = _window(doc)
    labels = _propagated(doc, ("metadata", "labels"), values_safe=True)
    sli = _indicator(doc, static=(_SLO_LABEL, *labels))
    annotations = _propagated(doc, ("metadata", "annotations"), values_safe=False)
    alerting = _alerting(doc, annotations)
    if (
        name is None
        or service is None
        or objective is None
        or period is None
        or sli is None
        or alerting is None
        or doc.errors
    ):
        return None
    labels = {_SLO_LABEL: name, **labels}  # Pyrra: propagated labels win over `slo`
    slo = SLO(
        service=service,
        name=name,
        objective=objective,
        period_days=period,
        sli=sli,
        alerting=alerting,
        source=Source(doc.path, doc.line),
        description=doc.get(("spec", "description")) or "",
        labels=labels,
    )
    return Service(name=service, slos=(slo,), source=Source(doc.path, doc.line))


def _k8s_name(doc: Document, path: Path) -> str | None:
    value = doc.string(path, required=True)
    if value is None:
        return None
    problem = name_problem(value)
    if problem:
        doc.error(path, problem)
        return None
    return value


def _service(doc: Document, name: str | None) -> str | None:
    """The obskit service: ``pyrra.dev/service`` label, else the namespace, else the name."""
    labels = doc.get(("metadata", "labels"))
    if isinstance(labels, dict) and _SERVICE_LABEL in labels:
        return _k8s_name(doc, ("metadata", "labels", _SERVICE_LABEL))
    if doc.get(("metadata", "namespace")) is not None:
        return _k8s_name(doc, ("metadata", "namespace"))
    return name


def _target(doc: Document) -> float | None:
    """``spec.target``: a percentage, a string in Pyrra's CRD (``"99.5"``); numbers accepted."""
    path: Path = ("spec", "target")
    value = doc.get(path)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        doc.error(path, 'must be a percentage such as "99.5"')
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        doc.error(path, f'must be a percentage such as "99.5", not {value!r}')
        return None
    if 0 < number < 1:
        # Pyrra only warns here, then reads 0.99 as 0.99 %: almost certainly not what was meant.
        percent = format((number * 100).normalize(), "f")
        doc.error(path, f"is a percentage from 0 to 100: write {percent} for {number}")
        return None
    return check_objective(doc, path, float(number))


def _seconds(doc: Document, path: Path, examples: str) -> Decimal | None:
    """A Prometheus duration (``4w``, ``1w2d``, ``200ms``) at ``path``, in seconds (exact)."""
    value = doc.get(path)
    text = value if isinstance(value, str) else ""
    parts = _DURATION_RE.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        doc.error(path, f"must be a duration such as {examples}, not {value!r}")
        return None
    return sum((Decimal(n) * Decimal(str(_UNIT_SECONDS[u])) for n, u in parts), Decimal(0))


def _window(doc: Document) -> int | None:
    """``spec.window`` (a Prometheus duration such as ``28d``, ``4w``, ``2w``) in whole days."""
    path: Path = ("spec", "window")
    seconds = _seconds(doc, path, "28d, 4w or 2w")
    if seconds is None:
        return None
    if seconds <= 0 or seconds % 86400:
        text = doc.get(path)
        doc.error(path, f"{text} is not a whole number of days (obskit periods are days: 28d, 4w)")
        return None
    return int(seconds // 86400)


def _indicator(doc: Document, static: tuple[str, ...]) -> SLI | None:
    path: Path = ("spec", "indicator")
    body = doc.mapping(path, _INDICATORS)
    if body is None:
        return None
    kinds = [k for k in _INDICATORS if body.get(k) is not None]
    if len(kinds) != 1:
        doc.error(path, "must have exactly one of: " + ", ".join(_INDICATORS))
        return None
    kind = kinds[0]
    at: Path = (*path, kind)
    if doc.mapping(at, _INDICATOR_KEYS[kind]) is None:
        return None
    # Pyrra's grouping: one SLI per value combination, every rule `sum by` the labels (Pyrra's
    # `sum by (grouping)`); `le` would split a latency SLI's good and total events apart.
    by = check_group_by(
        doc, (*at, "grouping"), static=static, sli_labels=("le",) if kind == "latency" else ()
    )
    if kind == "ratio":
        errors, total = _selector(doc, (*at, "errors")), _selector(doc, (*at, "total"))
        if errors is None or total is None or by is None:
            return None
        return SLI(
            kind="ratio", error_query=_rate(errors, by), total_query=_rate(total, by), group_by=by
        )
    if kind == "latency":
        success, total = _selector(doc, (*at, "success")), _selector(doc, (*at, "total"))
        if success is None or total is None or by is None:
            return None
        if not _has_le(success):
            doc.error((*at, "success", "metric"), 'must select one bucket with le="…"')
            return None
        return SLI(
            kind="latency",
            error_query=f"{_rate(total, by)} - {_rate(success, by)}",
            total_query=_rate(total, by),
            group_by=by,
        )
    if kind == "latencyNative":
        total = _selector(doc, (*at, "total"))
        seconds = _latency_seconds(doc, (*at, "latency"))
        if total is None or seconds is None or by is None:
            return None
        # A native histogram: the share above the threshold is 1 - histogram_fraction(0, t).
        rate = _rate(total, by)
        return SLI(
            kind="latency",
            error_query=f"histogram_count({rate}) * (1 - histogram_fraction(0, {seconds}, {rate}))",
            total_query=f"histogram_count({rate})",
            group_by=by,
        )
    gauge = _selector(doc, at, extra=("grouping",))
    if gauge is None or by is None:
        return None
    # Pyrra's bool_gauge: each sample is one event, 1 = good and 0 = bad.
    count = grouped_sum(f"count_over_time({gauge}[{WINDOW_PLACEHOLDER}])", by)
    good = grouped_sum(f"sum_over_time({gauge}[{WINDOW_PLACEHOLDER}])", by)
    return SLI(kind="ratio", error_query=f"{count} - {good}", total_query=count, group_by=by)


def _selector(doc: Document, path: Path, extra: tuple[str, ...] = ()) -> str | None:
    """``<path>.metric``: a plain selector (Pyrra refuses anything else, so does obskit)."""
    if not extra and isinstance(doc.get(path), dict) and "grouping" in doc.get(path):
        # Pyrra's `Query` has only `metric`: grouping is a field of the indicator.
        doc.error(
            (*path, "grouping"),
            f"belongs to the indicator: write it as {'.'.join(map(str, path[:-1]))}.grouping "
            "(Pyrra's CRD has no grouping here)",
        )
        return None
    if doc.mapping(path, ("metric", *extra), required=("metric",)) is None:
        return None
    at: Path = (*path, "metric")
    query = doc.string(at, required=True)
    if query is None:
        return None
    info = parse_query(query)
    if info.problem or not info.selector or WINDOW_PLACEHOLDER in query:
        doc.error(
            at,
            (info.problem or "must be a plain metric selector")
            + ' such as http_requests_total{job="api"}: Pyrra metrics are counters (or a '
            "boolean gauge) that obskit wraps in rate() itself",
        )
        return None
    return query.strip()


def _rate(selector: str, by: tuple[str, ...]) -> str:
    return grouped_sum(f"rate({selector}[{WINDOW_PLACEHOLDER}])", by)


def _has_le(selector: str) -> bool:
    import promql_parser

    expr = promql_parser.parse(selector)
    matchers = getattr(getattr(expr, "matchers", None), "matchers", ())
    return any(m.name == "le" for m in matchers)


def _latency_seconds(doc: Document, path: Path) -> str | None:
    seconds = _seconds(doc, path, "200ms or 1s")
    if seconds is None:
        return None
    if seconds <= 0:
        doc.error(path, "must be above zero")
        return None
    return format(seconds.normalize(), "f")


def _alerting(doc: Document, annotations: dict[str, str]) -> Alerting | None:
    path: Path = ("spec", "alerting")
    if doc.get(path) is None:
        return Alerting(name=_DEFAULT_ALERT, annotations=annotations)
    if doc.mapping(path, _ALERTING_KEYS) is None:
        return None
    burn_type = doc.get((*path, "burnRateType"))
    if burn_type not in (None, "static"):
        doc.error(
            (*path, "burnRateType"),
            f"not supported: {burn_type!r} burn rates; obskit alerts on the SRE Workbook's "
            "static burn rates (remove burnRateType or set it to static)",
        )
    # `disabled` is Pyrra's deprecated spelling of `burnrates: false`: recordings stay.
    enabled = not doc.boolean((*path, "disabled"), False) and doc.boolean(
        (*path, "burnrates"), True
    )
    # `absent`/`absentName`: obskit writes no absent-metric alert (docs/slo-spec.md says so).
    doc.boolean((*path, "absent"), True)
    return Alerting(
        name=check_alert_name(doc, (*path, "name")) or _DEFAULT_ALERT,
        page=enabled,
        ticket=enabled,
        annotations=annotations,
    )


def _propagated(doc: Document, path: Path, *, values_safe: bool) -> dict[str, str]:
    """Labels/annotations under ``pyrra.dev/``, prefix removed (Pyrra's propagation rule).

    Other keys (``prometheus: k8s``, ``app.kubernetes.io/name``…) select or describe the
    Kubernetes object and never reach a rule, in Pyrra as here, so they are not checked.
    """
    raw = doc.get(path)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        doc.error(path, "must be a mapping")
        return {}
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not (isinstance(key, str) and key.startswith(_PROPAGATE)):
            continue
        name = key[len(_PROPAGATE) :]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            doc.error((*path, key), "must be a string")
            continue
        text = value if isinstance(value, str) else repr(value)
        problem = label_name_problem(name) or (value_problem(text) if values_safe else None)
        if problem:
            doc.error((*path, key), problem)
        else:
            out[name] = text
    return out
