"""OpenSLO v1 (``apiVersion: openslo/v1``) → the model.

Every object and key of the OpenSLO v1 specification is recognised (the README's object
definitions and the ``OpenSLO/go-sdk`` v1 types); a file may hold one object per YAML document
or, as the Go SDK and ``oslo`` read it, a list of objects.  Supported: ``kind: SLO`` with an
inline ``indicator`` or an ``indicatorRef`` to a ``kind: SLI`` of the same build, whose
``ratioMetric`` has ``good`` or ``bad`` plus ``total`` (or ``raw`` with ``rawType``), Prometheus
queries (inline; a ``metricSourceRef`` only names the connection), one rolling ``timeWindow``
(30 days when left out, as the rule file header then says), one objective and the
``Occurrences`` budgeting method.  ``Service``, ``DataSource``, ``AlertPolicy``,
``AlertCondition`` and ``AlertNotificationTarget`` objects are read and otherwise unused.
Whatever obskit cannot honour is refused with "not supported: <why>", never silently dropped.
"""

from __future__ import annotations

from typing import Any, Final

from obskit.slo._checks import (
    DEFAULT_PERIOD_DAYS,
    alert_name,
    check_labels,
    check_name,
    check_period,
    good_to_errors,
    objective_from_ratio,
    one_series,
)
from obskit.slo._model import SLI, SLO, WINDOW_PLACEHOLDER, Alerting, Service, Source
from obskit.slo._promql import has_window, normalise_window, parse_query
from obskit.slo._yaml import Document, Path

__all__ = ["OpenSLOIndex", "load_openslo", "openslo_kind"]

_KINDS: Final = (
    "SLO",
    "SLI",
    "Service",
    "DataSource",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
)
_TOP_KEYS: Final = ("apiVersion", "kind", "metadata", "spec")
_METADATA_KEYS: Final = ("name", "displayName", "labels", "annotations")
_SLO_SPEC_KEYS: Final = (
    "description",
    "service",
    "indicator",
    "indicatorRef",
    "budgetingMethod",
    "timeWindow",
    "objectives",
    "alertPolicies",
)
#: Keys of the objects obskit reads but does not use (their ``spec``).
_IGNORED_SPEC_KEYS: Final = {
    "Service": ("description",),
    "DataSource": ("description", "type", "connectionDetails"),
    "AlertPolicy": (
        "description",
        "alertWhenNoData",
        "alertWhenResolved",
        "alertWhenBreaching",
        "conditions",
        "notificationTargets",
    ),
    "AlertCondition": ("description", "severity", "condition"),
    "AlertNotificationTarget": ("description", "target"),
}
_SLI_KEYS: Final = ("metadata", "spec")
_SLI_SPEC_KEYS: Final = ("description", "ratioMetric")
_RATIO_KEYS: Final = ("counter", "good", "bad", "total", "rawType", "raw")
_METRIC_KEYS: Final = ("metricSource",)
_SOURCE_KEYS: Final = ("type", "metricSourceRef", "spec")
_WINDOW_KEYS: Final = ("duration", "isRolling")
_OBJECTIVE_KEYS: Final = ("displayName", "target", "targetPercent")
_BUDGETING_METHODS: Final = ("Occurrences", "Timeslices", "RatioTimeslices")
_THRESHOLD_WHY: Final = (
    "a thresholdMetric SLI compares one metric with a value in time slices; obskit builds "
    "event-ratio SLOs: use a ratioMetric (good or bad, and total)"
)
_TIMESLICES_WHY: Final = (
    "obskit budgets by Occurrences (errors ÷ events); time-slice budgeting is not computed"
)
_COMPOSITE_WHY: Final = (
    "composite SLOs (an indicator per objective) are not built; write one SLO per indicator"
)
_UNSUPPORTED_OBJECTIVE: Final = {
    "op": "op and value compare a thresholdMetric; " + _THRESHOLD_WHY,
    "value": "op and value compare a thresholdMetric; " + _THRESHOLD_WHY,
    "timeSliceTarget": _TIMESLICES_WHY,
    "timeSliceWindow": _TIMESLICES_WHY,
    "indicator": _COMPOSITE_WHY,
    "indicatorRef": _COMPOSITE_WHY,
    "compositeWeight": _COMPOSITE_WHY,
}
DEFAULT_WINDOW_NOTE: Final = (
    "OpenSLO SLO {name}: no timeWindow, so obskit assumes a rolling {days}d window "
    "(the specification leaves it optional)."
)


def openslo_kind(doc: Document) -> str | None:
    """The document's ``kind`` when it is one obskit knows."""
    kind = doc.get(("kind",))
    return kind if kind in _KINDS else None


class OpenSLOIndex:
    """The ``kind: SLI`` and ``kind: DataSource`` documents of a build, for look-ups by name."""

    def __init__(self) -> None:
        self._slis: dict[str, tuple[Document, Path]] = {}
        self._built: dict[str, SLI | None] = {}
        #: DataSource name → its ``spec.type`` (``None`` when not a string).
        self.sources: dict[str, str | None] = {}

    def add(self, doc: Document) -> None:
        """Check an OpenSLO document's kind and shape; remember SLIs and DataSources."""
        kind = doc.get(("kind",))
        if kind not in _KINDS:
            doc.error(
                ("kind",), f"unsupported OpenSLO kind {kind!r}: use one of {', '.join(_KINDS)}"
            )
            return
        if kind == "SLO" or doc.mapping((), _TOP_KEYS, required=("metadata", "spec")) is None:
            return
        doc.mapping(("metadata",), _METADATA_KEYS, required=("name",))
        name = doc.get(("metadata", "name"))
        if kind in _IGNORED_SPEC_KEYS:
            doc.mapping(("spec",), _IGNORED_SPEC_KEYS[kind])
            if kind == "DataSource" and isinstance(name, str):
                source_type = doc.get(("spec", "type"))
                self.sources[name] = source_type if isinstance(source_type, str) else None
            return
        if not isinstance(name, str):
            doc.error(("metadata", "name"), "is required")
        elif name in self._slis:
            first = self._slis[name][0]
            doc.error(
                ("metadata", "name"),
                f"SLI {name!r} is already defined in {first.path}:{first.line}",
            )
        else:
            self._slis[name] = (doc, ())

    def sli(self, name: str) -> SLI | None:
        """The SLI named ``name`` (translated once), or ``None`` when unknown or invalid."""
        if name not in self._built:
            found = self._slis.get(name)
            self._built[name] = None if found is None else _indicator(found[0], found[1], self)
        return self._built[name]

    def check_all(self) -> None:
        """Translate every SLI, so an SLI that no SLO uses still reports its problems."""
        for name in self._slis:
            self.sli(name)

    def __contains__(self, name: str) -> bool:
        return name in self._slis


def load_openslo(doc: Document, index: OpenSLOIndex) -> Service | None:
    """Translate one ``kind: SLO`` document into a one-SLO service."""
    if doc.mapping((), _TOP_KEYS, required=("metadata", "spec")) is None:
        return None
    doc.mapping(("metadata",), _METADATA_KEYS, required=("name",))
    name = check_name(doc, ("metadata", "name"))
    spec = doc.mapping(("spec",), _SLO_SPEC_KEYS, required=("service", "objectives"))
    if spec is None:
        return None
    service = check_name(doc, ("spec", "service"))
    if spec.get("alertPolicies"):  # an empty list (or no value) asks for nothing
        doc.error(
            ("spec", "alertPolicies"),
            "not supported: obskit generates its own multi-window burn-rate alerts (page and "
            "ticket, see docs/slo-rules.md); leave alertPolicies empty or remove it",
        )
    method = spec.get("budgetingMethod", "Occurrences")
    if method in ("Timeslices", "RatioTimeslices"):
        doc.error(("spec", "budgetingMethod"), f"not supported: {method}: {_TIMESLICES_WHY}")
    elif method != "Occurrences":
        doc.error(
            ("spec", "budgetingMethod"),
            f"must be one of {', '.join(_BUDGETING_METHODS)} (obskit supports Occurrences)",
        )
    notes: tuple[str, ...] = ()
    if spec.get("timeWindow") is None:
        period: int | None = DEFAULT_PERIOD_DAYS
        notes = (DEFAULT_WINDOW_NOTE.format(name=f"{service}/{name}", days=period),)
    else:
        period = _period(doc)
    objective = _objective(doc)
    sli = _sli(doc, index)
    labels = check_labels(doc, ("metadata", "labels")) if _flatten_labels(doc) else {}
    if name is None or service is None or period is None or objective is None or sli is None:
        return None
    if doc.errors:
        return None
    slo = SLO(
        service=service,
        name=name,
        objective=objective,
        period_days=period,
        sli=sli,
        alerting=Alerting(name=alert_name(service, name)),
        source=Source(doc.path, doc.line),
        description=doc.string(("spec", "description")) or "",
        labels=labels,
        notes=notes,
    )
    return Service(name=service, slos=(slo,), source=Source(doc.path, doc.line))


def _flatten_labels(doc: Document) -> bool:
    """OpenSLO label values may be lists of strings: join them with commas, in place."""
    labels = doc.get(("metadata", "labels"))
    if isinstance(labels, dict):
        for key, value in labels.items():
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                labels[key] = ",".join(value)
    return labels is not None


def _period(doc: Document) -> int | None:
    windows = doc.get(("spec", "timeWindow"))
    if not isinstance(windows, list) or len(windows) != 1:
        doc.error(("spec", "timeWindow"), "must be a list of exactly one time window")
        return None
    path: Path = ("spec", "timeWindow", 0)
    window = doc.mapping(
        path,
        _WINDOW_KEYS,
        required=("duration",),
        unsupported={
            "calendar": "calendar-aligned windows restart the budget on a date; obskit's "
            "budget rolls over the last N days (use duration: 30d, isRolling: true)"
        },
    )
    if window is None or "calendar" in window:
        return None
    if window.get("isRolling", True) is not True:
        doc.error((*path, "isRolling"), "must be true: obskit's windows are rolling")
        return None
    duration = window.get("duration")
    if isinstance(duration, str) and duration[-1:] in ("M", "Q", "Y"):
        doc.error(
            (*path, "duration"),
            f"not supported: {duration}: months, quarters and years are not a fixed number of "
            "days; write the window in days or weeks (e.g. 28d, 30d, 4w)",
        )
        return None
    return check_period(doc, (*path, "duration"))


def _objective(doc: Document) -> float | None:
    objectives = doc.get(("spec", "objectives"))
    if not isinstance(objectives, list) or not objectives:
        doc.error(("spec", "objectives"), "must be a list of one objective")
        return None
    if len(objectives) != 1:
        doc.error(
            ("spec", "objectives"),
            "not supported: several objectives in one SLO (obskit alerts on one error budget "
            "per SLO); write one SLO document per objective",
        )
        return None
    path: Path = ("spec", "objectives", 0)
    body = doc.mapping(path, _OBJECTIVE_KEYS, unsupported=_UNSUPPORTED_OBJECTIVE)
    if body is None or any(key in body for key in _UNSUPPORTED_OBJECTIVE):
        return None
    if ("target" in body) == ("targetPercent" in body):
        doc.error(path, "needs exactly one of 'target' (e.g. 0.999) or 'targetPercent'")
        return None
    if "target" in body:
        return objective_from_ratio(doc, (*path, "target"), doc.number((*path, "target")))
    percent = doc.number((*path, "targetPercent"))
    if percent is not None and not 0 < percent < 100:
        doc.error((*path, "targetPercent"), "must be strictly between 0 and 100")
        return None
    return percent


def _sli(doc: Document, index: OpenSLOIndex) -> SLI | None:
    inline, ref = doc.get(("spec", "indicator")), doc.get(("spec", "indicatorRef"))
    if (inline is None) == (ref is None):
        doc.error(("spec",), "needs exactly one of 'indicator' or 'indicatorRef'")
        return None
    if inline is not None:
        return _indicator(doc, ("spec", "indicator"), index)
    if not isinstance(ref, str) or ref not in index:
        doc.error(("spec", "indicatorRef"), f"no kind: SLI document named {ref!r} in this build")
        return None
    sli = index.sli(ref)
    if sli is None:
        doc.error(("spec", "indicatorRef"), f"SLI {ref!r} is invalid (see its own errors)")
    return sli


def _indicator(doc: Document, path: Path, index: OpenSLOIndex) -> SLI | None:
    """An SLI body (inline ``indicator`` or a ``kind: SLI`` document) → the model's SLI."""
    body = doc.mapping(path, _SLI_KEYS if path else (*_TOP_KEYS,), required=("spec",))
    if body is None:
        return None
    if path:
        doc.mapping((*path, "metadata"), _METADATA_KEYS, optional=True)
    spec = doc.mapping(
        (*path, "spec"), _SLI_SPEC_KEYS, unsupported={"thresholdMetric": _THRESHOLD_WHY}
    )
    if spec is None or "thresholdMetric" in spec:
        return None
    ratio_path = (*path, "spec", "ratioMetric")
    ratio = doc.mapping(ratio_path, _RATIO_KEYS)
    if ratio is None:
        return None
    counter = doc.boolean((*ratio_path, "counter"), False)
    if "raw" in ratio:
        return _raw(doc, ratio_path, ratio, counter, index)
    if ("good" in ratio) == ("bad" in ratio) or "total" not in ratio:
        doc.error(ratio_path, "needs 'good' or 'bad' (exactly one), and 'total'")
        return None
    which = "good" if "good" in ratio else "bad"
    query = _query(doc, (*ratio_path, which), counter, index)
    total = _query(doc, (*ratio_path, "total"), counter, index)
    if query is None or total is None:
        return None
    errors = one_series(query) if which == "bad" else good_to_errors(total, query)
    return SLI(kind="ratio", error_query=errors, total_query=one_series(total))


def _raw(
    doc: Document, path: Path, ratio: dict[str, Any], counter: bool, index: OpenSLOIndex
) -> SLI | None:
    raw_type = ratio.get("rawType")
    if raw_type not in ("success", "failure"):
        doc.error((*path, "rawType"), "must be 'success' or 'failure' with a raw ratio query")
        return None
    if "good" in ratio or "bad" in ratio or "total" in ratio:
        doc.error(path, "use either 'raw' or 'good'/'bad' with 'total', not both")
        return None
    query = _query(doc, (*path, "raw"), counter, index)
    if query is None:
        return None
    ratio_query = query if raw_type == "failure" else f"1 - ({query})"
    return SLI(kind="raw", error_ratio_query=ratio_query)


def _query(doc: Document, path: Path, counter: bool, index: OpenSLOIndex) -> str | None:
    """A metric's Prometheus query as a template over the window placeholder."""
    if doc.mapping(path, _METRIC_KEYS, required=("metricSource",)) is None:
        return None
    source = (*path, "metricSource")
    body = doc.mapping(source, _SOURCE_KEYS)
    if body is None:
        return None
    ref = body.get("metricSourceRef")
    kind = body.get("type")
    if kind is None and isinstance(ref, str):
        kind = index.sources.get(ref)  # the type comes from the DataSource, when in the build
    if kind is not None and (not isinstance(kind, str) or kind.lower() != "prometheus"):
        doc.error((*source, "type"), f"not supported: {kind!r}: obskit reads Prometheus queries")
        return None
    if not isinstance(body.get("spec"), dict) or "query" not in body["spec"]:
        doc.error(
            (*source, "spec", "query"),
            "is required: obskit reads the Prometheus query inline"
            + (
                f" (metricSourceRef {ref!r} only names a connection, which obskit does not use: "
                "the rules run in the Prometheus that loads them)"
                if ref is not None
                else ""
            ),
        )
        return None
    if doc.mapping((*source, "spec"), ("query",), required=("query",)) is None:
        return None
    query_path = (*source, "spec", "query")
    raw = doc.string(query_path, required=True)
    if raw is None:
        return None
    query = normalise_window(raw)
    if not has_window(query):
        info = parse_query(query)
        if info.problem:
            doc.error(query_path, info.problem)
            return None
        if not (counter and info.selector):
            doc.error(
                query_path,
                "needs the window placeholder {{.window}}, or counter: true with a plain "
                'counter selector such as requests_total{job="api"}',
            )
            return None
        query = f"sum(rate({query}[{WINDOW_PLACEHOLDER}]))"
    info = parse_query(query)
    if info.problem:
        doc.error(query_path, info.problem)
        return None
    return query
