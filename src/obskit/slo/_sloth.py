"""Sloth ``prometheus/v1`` specs (and the ``PrometheusServiceLevel`` CRD) → the model.

Teams migrating from Sloth keep their alert names (``alerting.name``) and every label
(``alerting.labels``, ``page_alert.labels``, ``ticket_alert.labels``) exactly, so their
Alertmanager routes keep matching.  Sloth has no per-SLO period: every SLO covers 30 days.
"""

from __future__ import annotations

from typing import Final

from obskit.slo._checks import (
    DEFAULT_PERIOD_DAYS,
    alert_name,
    check_alert_name,
    check_labels,
    check_name,
    check_objective,
    check_template,
    check_unique_names,
    one_series,
)
from obskit.slo._model import SLI, SLO, Alerting, Service, Source
from obskit.slo._yaml import Document, Path

__all__ = ["SLOTH_CRD_API", "SLOTH_VERSION", "load_sloth"]

SLOTH_VERSION: Final = "prometheus/v1"
SLOTH_CRD_API: Final = "sloth.slok.dev/v1"
_CRD_KIND: Final = "PrometheusServiceLevel"
_TOP_KEYS: Final = ("version", "service", "labels", "slos")
_CRD_KEYS: Final = ("apiVersion", "kind", "metadata", "spec")
_SPEC_KEYS: Final = ("service", "labels", "slos")
_SLO_KEYS: Final = ("name", "objective", "description", "labels", "sli", "alerting")
_SLI_KEYS: Final = ("events", "raw", "plugin")
_ALERTING_KEYS: Final = ("name", "labels", "annotations", "page_alert", "ticket_alert")
_ALERT_KEYS: Final = ("disable", "labels", "annotations")


def load_sloth(doc: Document) -> Service | None:
    """Translate one Sloth document (plain spec or CRD); problems are recorded on ``doc``."""
    base: Path = ()
    if "apiVersion" in doc.data:
        if doc.mapping((), _CRD_KEYS, required=("spec",)) is None:
            return None
        if doc.get(("kind",)) != _CRD_KIND:
            doc.error(("kind",), f"must be {_CRD_KIND} for apiVersion {SLOTH_CRD_API}")
            return None
        base = ("spec",)
        if doc.mapping(base, _SPEC_KEYS, required=("service", "slos")) is None:
            return None
    elif doc.mapping((), _TOP_KEYS, required=("service", "slos")) is None:
        return None
    service = check_name(doc, (*base, "service"))
    labels = check_labels(doc, (*base, "labels"))
    slos_value = doc.get((*base, "slos"))
    if not isinstance(slos_value, list) or not slos_value:
        doc.error((*base, "slos"), "must be a non-empty list of SLOs")
        return None
    slos = []
    for i in range(len(slos_value)):
        slo = _slo(doc, (*base, "slos", i), service or "", labels)
        if slo is not None:
            slos.append(slo)
    check_unique_names(doc, (*base, "slos"))
    if service is None or doc.errors:
        return None
    return Service(name=service, slos=tuple(slos), source=Source(doc.path, doc.line), labels=labels)


def _slo(doc: Document, path: Path, service: str, service_labels: dict[str, str]) -> SLO | None:
    if doc.mapping(path, _SLO_KEYS, required=("name", "objective", "sli")) is None:
        return None
    name = check_name(doc, (*path, "name"))
    objective = check_objective(
        doc, (*path, "objective"), doc.number((*path, "objective"), required=True)
    )
    labels = {**service_labels, **check_labels(doc, (*path, "labels"))}
    sli = _sli(doc, (*path, "sli"))
    alerting = _alerting(doc, (*path, "alerting"), alert_name(service, name or ""))
    if name is None or objective is None or sli is None or alerting is None:
        return None
    return SLO(
        service=service,
        name=name,
        objective=objective,
        period_days=DEFAULT_PERIOD_DAYS,
        sli=sli,
        alerting=alerting,
        source=Source(doc.path, doc.line_of(path)),
        description=doc.string((*path, "description")) or "",
        labels=labels,
    )


def _sli(doc: Document, path: Path) -> SLI | None:
    body = doc.mapping(path, _SLI_KEYS)
    if body is None:
        return None
    kinds = [k for k in _SLI_KEYS if k in body]
    if len(kinds) != 1:
        doc.error(path, "must have exactly one of: events, raw")
        return None
    if kinds[0] == "plugin":
        doc.error((*path, "plugin"), "Sloth SLI plugins are not supported: use events or raw")
        return None
    if kinds[0] == "raw":
        if doc.mapping((*path, "raw"), ("error_ratio_query",), required=("error_ratio_query",)):
            query = check_template(doc, (*path, "raw", "error_ratio_query"))
            if query is not None:
                return SLI(kind="raw", error_ratio_query=query)
        return None
    events = (*path, "events")
    if doc.mapping(events, ("error_query", "total_query")) is None:
        return None
    errors = check_template(doc, (*events, "error_query"))
    total = check_template(doc, (*events, "total_query"))
    if errors is None or total is None:
        return None
    return SLI(kind="ratio", error_query=one_series(errors), total_query=one_series(total))


def _alerting(doc: Document, path: Path, default_name: str) -> Alerting | None:
    if doc.get(path) is None:
        return Alerting(name=default_name)
    if doc.mapping(path, _ALERTING_KEYS) is None:
        return None
    page, ticket = (*path, "page_alert"), (*path, "ticket_alert")
    for severity in (page, ticket):
        doc.mapping(severity, _ALERT_KEYS, optional=True)
    annotations = check_labels(doc, (*path, "annotations"), values_safe=False)
    return Alerting(
        name=check_alert_name(doc, (*path, "name")) or default_name,
        page=not doc.boolean((*page, "disable"), False),
        ticket=not doc.boolean((*ticket, "disable"), False),
        labels=check_labels(doc, (*path, "labels")),
        page_labels=check_labels(doc, (*page, "labels")),
        ticket_labels=check_labels(doc, (*ticket, "labels")),
        annotations=annotations,
        page_annotations=check_labels(doc, (*page, "annotations"), values_safe=False),
        ticket_annotations=check_labels(doc, (*ticket, "annotations"), values_safe=False),
    )
