"""Sloth-shaped alerts: what a team migrating from Sloth receives, alert for alert.

obskit's own shape is one alert per window pair (four tiers, each labelled with its windows).
Sloth writes one alert per severity whose expression ORs the severity's two window pairs, with
``sloth_severity`` on the rule and ``sloth_id``/``sloth_service``/``sloth_slo`` plus
``sloth_window`` (the short window of the pair that fired) inherited from its recorded series.
This module rewrites the rule groups built by :mod:`obskit.slo._rules`:

* for an SLO whose ``alerting.shape`` is ``sloth`` (the default for Sloth input), its alerts
  are replaced, where they stood, by one ``page`` and one ``ticket`` alert in Sloth's
  expression shape (``short > burn * budget and ignoring (sloth_window) long > …``, pairs
  joined by ``or ignoring (sloth_window)``) carrying exactly Sloth's labels, with Sloth's
  default ``title`` and ``summary`` annotations unless the spec sets its own;
* for an SLO read from a Sloth file, every recorded series also carries Sloth's
  id/service/SLO labels and each error-ratio series its ``sloth_window``, as Sloth's do (queries
  filtering on them only change the metric name).  This depends on the input, not on the alert
  shape, so switching ``--alert-shape`` never changes a series' identity (the period ratio
  keeps its 30 days of history).

obskit's labels are added, never replacing Sloth's: ``severity`` only when the spec sets none,
and the ``obskit_*`` ids every obskit series carries.  The rewrite works on whatever group
layout the generator chose, so it does not care how rules are split into groups.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Final

from obskit import conventions as c
from obskit.slo._model import SLO, AlertShape, AlertTier, Service, Severity
from obskit.slo._promql import string_literal
from obskit.slo._rules import Rule, RuleGroup, fmt_number

__all__ = ["sloth_alerts", "sloth_shaped", "with_alert_shape"]

_RATIO_PREFIX: Final = c.error_ratio_rule("")
_WINDOW_RE: Final = re.compile(r"\d+[smhdwy]\Z")
#: Sloth's default annotations (``internal/prometheus/alert_rules.go``), templated on the
#: labels every alert inherits from the recorded series.
_TITLE: Final = (
    "({severity}) {{{{$labels.{service}}}}} {{{{$labels.{slo}}}}} "
    "SLO error budget burn rate is too fast."
)
_SUMMARY: Final = (
    "{{{{$labels.{service}}}}} {{{{$labels.{slo}}}}} SLO error budget burn rate is over expected."
)


def with_alert_shape(services: Sequence[Service], shape: AlertShape) -> list[Service]:
    """Every SLO of ``services`` with ``alerting.shape`` forced to ``shape`` (the CLI option)."""
    out = []
    for service in services:
        slos = tuple(
            dataclasses.replace(slo, alerting=dataclasses.replace(slo.alerting, shape=shape))
            for slo in service.slos
        )
        out.append(dataclasses.replace(service, slos=slos))
    return out


def sloth_shaped(service: Service, groups: Sequence[RuleGroup]) -> list[RuleGroup]:
    """``groups`` with Sloth's labels on Sloth input's recordings and Sloth-shaped alerts."""
    labelled = {slo.id: slo for slo in service.slos if slo.origin == "sloth"}
    shaped = {slo.id: slo for slo in service.slos if slo.alerting.shape == "sloth"}
    if not labelled and not shaped:
        return list(groups)
    done: set[str] = set()
    out = []
    for group in groups:
        rules: list[Rule] = []
        for rule in group.rules:
            slo_id = dict(rule.labels).get(c.SLO_LABEL_ID, "")
            if rule.record is not None:
                slo = labelled.get(slo_id)
                rules.append(rule if slo is None else _with_sloth_labels(rule, slo))
            elif slo_id not in shaped:
                rules.append(rule)
            elif slo_id not in done:  # the SLO's first alert: all of its Sloth alerts here
                done.add(slo_id)
                rules.extend(sloth_alerts(shaped[slo_id]))
        out.append(dataclasses.replace(group, rules=tuple(rules)))
    return out


def _sloth_ids(slo: SLO) -> dict[str, str]:
    return {
        c.SLOTH_LABEL_ID: slo.id,
        c.SLOTH_LABEL_SERVICE: slo.service,
        c.SLOTH_LABEL_SLO: slo.name,
    }


def _with_sloth_labels(rule: Rule, slo: SLO) -> Rule:
    labels = {**dict(rule.labels), **_sloth_ids(slo)}
    assert rule.record is not None
    window = rule.record[len(_RATIO_PREFIX) :] if rule.record.startswith(_RATIO_PREFIX) else ""
    if _WINDOW_RE.match(window):
        labels[c.SLOTH_LABEL_WINDOW] = window
    return dataclasses.replace(rule, labels=tuple(sorted(labels.items())))


def sloth_alerts(slo: SLO) -> list[Rule]:
    """The SLO's page and ticket alerts in Sloth's shape (disabled severities left out)."""
    alerting = slo.alerting
    out = []
    severities: tuple[tuple[Severity, bool], ...] = (
        ("page", alerting.page),
        ("ticket", alerting.ticket),
    )
    for severity, enabled in severities:
        if enabled:
            tiers = [t for t in slo.tiers if t.severity == severity]
            out.append(_alert(slo, severity, tiers))
    return out


def _pair(slo: SLO, tier: AlertTier, sel: str) -> str:
    threshold = f"({fmt_number(tier.burn_rate)} * {fmt_number(slo.error_budget)})"
    short = f"{c.error_ratio_rule(tier.short_window)}{sel}"
    long = f"{c.error_ratio_rule(tier.long_window)}{sel}"
    # Sloth's alert inherits `sloth_window` (the short window of the pair that fired first) from
    # its ratio series; label_replace sets the same value whatever the recordings carry.
    window = c.SLOTH_LABEL_WINDOW
    pair = (
        f'    label_replace({short} > {threshold}, "{window}", "{tier.short_window}", "", "")\n'
        f"    and ignoring ({window})\n"
        f"    ({long} > {threshold})"
    )
    if slo.alerting.min_events > 0 and slo.sli.error_query is not None:
        # obskit's minimum-traffic guard, when the spec asks for it (never in Sloth input).
        seconds = c.window_seconds(tier.long_window)
        pair += (
            f"\n    and on ({', '.join(slo.sli.group_by)})\n"
            f"    (avg_over_time({c.RULE_SLI_TOTAL_RATE}{sel}"
            f"[{tier.long_window}]) * {seconds} >= {fmt_number(slo.alerting.min_events)})"
        )
    return f"(\n{pair}\n)"


def _alert(slo: SLO, severity: Severity, tiers: list[AlertTier]) -> Rule:
    alerting = slo.alerting
    sel = (
        f"{{{c.SLO_LABEL_SERVICE}={string_literal(slo.service)},"
        f"{c.SLO_LABEL_SLO}={string_literal(slo.name)}}}"
    )
    expr = f"\nor ignoring ({c.SLOTH_LABEL_WINDOW})\n".join(_pair(slo, t, sel) for t in tiers)
    page = severity == "page"
    # Sloth: its severity label, then the SLO's alert labels, then the severity's (later wins).
    labels: dict[str, str] = {
        c.SLOTH_LABEL_SEVERITY: severity,
        **alerting.labels,
        **(alerting.page_labels if page else alerting.ticket_labels),
    }
    labels.setdefault(c.ALERT_LABEL_SEVERITY, severity)
    labels.update(_sloth_ids(slo))  # what Sloth's alerts inherit from its recorded series
    labels[c.SLO_LABEL_SERVICE] = slo.service
    labels[c.SLO_LABEL_SLO] = slo.name
    labels[c.SLO_LABEL_ID] = slo.id
    names = {"service": c.SLOTH_LABEL_SERVICE, "slo": c.SLOTH_LABEL_SLO}
    annotations = {
        "title": _TITLE.format(severity=severity, **names),
        "summary": _SUMMARY.format(**names),
    }
    if alerting.runbook_url:
        annotations["runbook_url"] = alerting.runbook_url
    annotations.update(alerting.annotations)
    annotations.update(alerting.page_annotations if page else alerting.ticket_annotations)
    for_ = (alerting.page_for if page else alerting.ticket_for).strip()
    if for_ and not any(ch.isdigit() and ch != "0" for ch in for_):
        for_ = ""  # 0m, 0s …: no `for:`
    return Rule(
        alert=alerting.name,
        expr=expr,
        labels=tuple(sorted(labels.items())),
        for_=for_,
        annotations=tuple(sorted(annotations.items())),
    )
