"""Sloth ``prometheus/v1`` specs and ``sloth.slok.dev/v1`` ``PrometheusServiceLevel`` → the model.

Both forms are read the way Sloth reads them (``pkg/prometheus/api/v1`` with YAML tags in
snake_case, decoded by ``gopkg.in/yaml``; ``pkg/kubernetes/api/sloth/v1`` with JSON tags in
camelCase, decoded by the Kubernetes deserializer):

* each form has its own spelling (``error_query`` / ``errorQuery``, ``page_alert`` /
  ``pageAlert`` …).  Sloth ignores the other form's spelling, so obskit does too: it has no
  effect, and a required field written only that way is reported missing with a hint;
* the plain form's label values may be booleans or numbers, which Go's YAML decoder turns into
  their text as written (``generated: true`` → ``"true"``, ``tier: 2`` → ``"2"``); the
  Kubernetes form refuses them, as Sloth and the Kubernetes API do;
* SLO plugins (``slo_plugins`` / ``sloPlugins``, ``plugins``) and SLI plugins are known and
  refused with the plugin id: obskit runs no plugins.

Unlike Sloth, a key neither form knows (a typo) is an error rather than silently dropped.
Sloth has no per-SLO period: every SLO covers 30 days.  The alerts default to Sloth's shape
(one alert per severity, Sloth's labels and annotations; see :mod:`obskit.slo._sloth_alerts`).
"""

from __future__ import annotations

from dataclasses import dataclass
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
_CRD_KEYS: Final = ("apiVersion", "kind", "metadata", "spec", "status")


@dataclass(frozen=True)
class _Form:
    """The spelling of one of Sloth's two forms."""

    name: str
    top: tuple[str, ...]
    slo: tuple[str, ...]
    error_query: str
    total_query: str
    error_ratio_query: str
    page_alert: str
    ticket_alert: str
    slo_plugins: str
    #: Keys of this form Sloth reads but obskit does not use: key → note for the file header.
    noted: tuple[tuple[str, str], ...] = ()


PLAIN: Final = _Form(
    name=f"Sloth {SLOTH_VERSION}",
    top=("version", "service", "labels", "slo_plugins", "slos"),
    slo=("name", "description", "objective", "labels", "plugins", "sli", "alerting"),
    error_query="error_query",
    total_query="total_query",
    error_ratio_query="error_ratio_query",
    page_alert="page_alert",
    ticket_alert="ticket_alert",
    slo_plugins="slo_plugins",
    noted=(
        ("infoLabels", "labels of Sloth's sloth_slo_info series (obskit writes no such series)"),
        ("interval", "per-group evaluation intervals (obskit's groups use the global interval)"),
    ),
)
CRD: Final = _Form(
    name=_CRD_KIND,
    top=("service", "labels", "sloPlugins", "slos"),
    slo=("name", "description", "objective", "plugins", "labels", "sli", "alerting"),
    error_query="errorQuery",
    total_query="totalQuery",
    error_ratio_query="errorRatioQuery",
    page_alert="pageAlert",
    ticket_alert="ticketAlert",
    slo_plugins="sloPlugins",
)
_PLAIN_TO_CRD: Final = {
    "error_query": "errorQuery",
    "total_query": "totalQuery",
    "error_ratio_query": "errorRatioQuery",
    "page_alert": "pageAlert",
    "ticket_alert": "ticketAlert",
    "slo_plugins": "sloPlugins",
}
_CRD_TO_PLAIN: Final = {v: k for k, v in _PLAIN_TO_CRD.items()}


def _other_spelling(form: _Form, key: str) -> str | None:
    """The other form's spelling of ``key`` (``errorQuery`` for the plain ``error_query``, and
    ``error_query`` for the CRD's ``errorQuery``); ``None`` when both forms spell it alike."""
    table = _CRD_TO_PLAIN if form is CRD else _PLAIN_TO_CRD
    return table.get(key)


def load_sloth(doc: Document) -> Service | None:
    """Translate one Sloth document (plain spec or CRD); problems are recorded on ``doc``."""
    base: Path = ()
    form = PLAIN
    if "apiVersion" in doc.data:
        if doc.mapping((), _CRD_KEYS, required=("spec",)) is None:
            return None
        kind = doc.get(("kind",))
        if kind == "AlertWindows":
            doc.error(
                ("kind",),
                "not supported: Sloth's AlertWindows (custom SLO periods and windows for "
                "--slo-period-windows-path); obskit uses the SRE Workbook's windows scaled to "
                "each SLO's period (native specs set `period:`); keep this file out of the build",
            )
            return None
        if kind != _CRD_KIND:
            doc.error(("kind",), f"must be {_CRD_KIND} for apiVersion {SLOTH_CRD_API}")
            return None
        base, form = ("spec",), CRD
    ignored = _ignored(form, form.top)
    if doc.mapping(base, form.top, required=("service", "slos"), ignored=ignored) is None:
        return None
    _refuse_plugins(doc, (*base, form.slo_plugins), "slo")
    service = check_name(doc, (*base, "service"))
    labels = _labels(doc, (*base, "labels"), form)
    slos_value = doc.get((*base, "slos"))
    if not isinstance(slos_value, list) or not slos_value:
        doc.error((*base, "slos"), "must be a non-empty list of SLOs")
        return None
    slos = []
    for i in range(len(slos_value)):
        slo = _slo(doc, (*base, "slos", i), form, service or "", labels)
        if slo is not None:
            slos.append(slo)
    check_unique_names(doc, (*base, "slos"))
    if service is None or doc.errors:
        return None
    return Service(name=service, slos=tuple(slos), source=Source(doc.path, doc.line), labels=labels)


def _ignored(form: _Form, keys: tuple[str, ...]) -> tuple[str, ...]:
    """The other form's spelling of ``keys``: accepted without effect, as Sloth does."""
    out = []
    for key in keys:
        twin = _other_spelling(form, key)
        if twin is not None:
            out.append(twin)
    return tuple(out)


def _labels(doc: Document, path: Path, form: _Form, *, annotations: bool = False) -> dict[str, str]:
    """Labels (or, with ``annotations``, annotations) as Sloth's decoder of ``form`` reads them."""
    if form is CRD:
        value = doc.get(path)
        refused = False
        for key, item in value.items() if isinstance(value, dict) else ():
            if isinstance(item, bool | int | float):
                text = doc.texts.get((*path, key), str(item))
                doc.error(
                    (*path, key),
                    f"must be a string: a {_CRD_KIND} is decoded into map[string]string, "
                    f'so Sloth and the Kubernetes API refuse {text}; quote it ("{text}")',
                )
                refused = True
        if refused:
            return {}
        return check_labels(doc, path, values_safe=not annotations)
    return check_labels(doc, path, values_safe=not annotations, as_written=True)


def _refuse_plugins(doc: Document, path: Path, what: str) -> None:
    """Sloth SLO plugin chains: refused, naming every plugin id."""
    value = doc.get(path)
    if value is None:
        return
    chain = value.get("chain") if isinstance(value, dict) else None
    ids = [
        (i, item.get("id"))
        for i, item in enumerate(chain if isinstance(chain, list) else ())
        if isinstance(item, dict)
    ]
    if not ids:
        doc.error(path, f"not supported: Sloth {what} plugins; obskit runs no plugins, remove it")
        return
    for i, plugin_id in ids:
        doc.error((*path, "chain", i, "id"), _plugin_message(str(plugin_id)))


def _plugin_message(plugin_id: str) -> str:
    hint = "remove it"
    if "/debug/" in plugin_id:
        hint = "remove it (it only logs while Sloth generates)"
    elif "denominator_corrected" in plugin_id:
        hint = "remove it: obskit's period ratio is already weighted by traffic"
    elif "rule_intervals" in plugin_id or "interval" in plugin_id:
        hint = "remove it: obskit's groups are evaluated at the ruler's global interval"
    elif "/core/" in plugin_id:
        hint = "remove it: obskit generates the SLI, metadata and alert rules itself"
    return (
        f"not supported: Sloth SLO plugin {plugin_id!r}: obskit runs no SLO plugins and "
        f"generates its rules itself; {hint} (see docs/coming-from-sloth.md)"
    )


def _slo(
    doc: Document, path: Path, form: _Form, service: str, service_labels: dict[str, str]
) -> SLO | None:
    keys = (*form.slo, *(k for k, _ in form.noted))
    body = doc.mapping(
        path,
        keys,
        required=("name", "objective", "sli"),
        ignored=_ignored(form, form.slo),
    )
    if body is None:
        return None
    _refuse_plugins(doc, (*path, "plugins"), "SLO")
    name = check_name(doc, (*path, "name"))
    notes = tuple(
        f"SLO {service}/{name}: Sloth's {key} is ignored: {why}."
        for key, why in form.noted
        if key in body
    )
    objective = check_objective(
        doc, (*path, "objective"), doc.number((*path, "objective"), required=True)
    )
    labels = {**service_labels, **_labels(doc, (*path, "labels"), form)}
    sli = _sli(doc, (*path, "sli"), form)
    alerting = _alerting(doc, (*path, "alerting"), form, alert_name(service, name or ""))
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
        notes=notes,
        origin="sloth",
    )


def _required_query(doc: Document, path: Path, key: str, form: _Form) -> str | None:
    """A required query, with a hint when it is written in the other form's spelling."""
    parent = doc.get(path)
    twin = _other_spelling(form, key)
    if isinstance(parent, dict) and parent.get(key) is None and twin in parent:
        doc.error(
            (*path, key),
            f"is required ({twin!r} is the other Sloth form's spelling, which Sloth ignores in "
            f"a {form.name}; write {key!r})",
        )
        return None
    return check_template(doc, (*path, key))


def _sli(doc: Document, path: Path, form: _Form) -> SLI | None:
    body = doc.mapping(path, ("events", "raw", "plugin"))
    if body is None:
        return None
    kinds = [k for k in ("events", "raw", "plugin") if k in body]
    if len(kinds) != 1:
        doc.error(path, "must have exactly one of: events, raw")
        return None
    if kinds[0] == "plugin":
        plugin_id = doc.get((*path, "plugin", "id"))
        doc.error(
            (*path, "plugin"),
            f"not supported: Sloth SLI plugin {str(plugin_id or '')!r}: obskit runs no SLI "
            "plugins; write the queries the plugin generates as events "
            f"({form.error_query}, {form.total_query}) or raw ({form.error_ratio_query})",
        )
        return None
    if kinds[0] == "raw":
        raw = (*path, "raw")
        keys: tuple[str, ...] = (form.error_ratio_query,)
        if doc.mapping(raw, keys, ignored=_ignored(form, keys)) is not None:
            query = _required_query(doc, raw, form.error_ratio_query, form)
            if query is not None:
                return SLI(kind="raw", error_ratio_query=query)
        return None
    events = (*path, "events")
    keys = (form.error_query, form.total_query)
    if doc.mapping(events, keys, ignored=_ignored(form, keys)) is None:
        return None
    errors = _required_query(doc, events, form.error_query, form)
    total = _required_query(doc, events, form.total_query, form)
    if errors is None or total is None:
        return None
    return SLI(kind="ratio", error_query=one_series(errors), total_query=one_series(total))


def _alerting(doc: Document, path: Path, form: _Form, default_name: str) -> Alerting | None:
    if doc.get(path) is None:
        return Alerting(name=default_name, page_for="", ticket_for="", shape="sloth")
    keys = ("name", "labels", "annotations", form.page_alert, form.ticket_alert)
    if doc.mapping(path, keys, ignored=_ignored(form, keys)) is None:
        return None
    page, ticket = (*path, form.page_alert), (*path, form.ticket_alert)
    for severity in (page, ticket):
        doc.mapping(severity, ("disable", "labels", "annotations"), optional=True)
    return Alerting(
        name=check_alert_name(doc, (*path, "name")) or default_name,
        page=not doc.boolean((*page, "disable"), False),
        ticket=not doc.boolean((*ticket, "disable"), False),
        labels=_labels(doc, (*path, "labels"), form),
        page_labels=_labels(doc, (*page, "labels"), form),
        ticket_labels=_labels(doc, (*ticket, "labels"), form),
        annotations=_labels(doc, (*path, "annotations"), form, annotations=True),
        page_annotations=_labels(doc, (*page, "annotations"), form, annotations=True),
        ticket_annotations=_labels(doc, (*ticket, "annotations"), form, annotations=True),
        # Sloth's alerts have no `for:`: they fire on the first evaluation over the threshold.
        page_for="",
        ticket_for="",
        shape="sloth",
    )
