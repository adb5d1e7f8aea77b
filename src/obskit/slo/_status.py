"""``obskit slo status``: each SLO's live figures, read from the series obskit's rules record.

Every name queried comes from :mod:`obskit.conventions`, and every series is selected by the SLO
labels (:data:`~obskit.conventions.SLO_LABEL_SERVICE`, :data:`~obskit.conventions.SLO_LABEL_SLO`)
and alerts by :data:`~obskit.conventions.ALERT_LABEL_TIER` (or, for Sloth-shaped alerts, Sloth's
severity and window labels) — never by rule group or alert name, so the figures survive groups
being split and Sloth specs keeping their own alert names.

What is read, per SLO, at the instant ``at``:

* the objective the *loaded* rules record (absent: the rules are not loaded, or not this SLO's);
* the period error ratio and the budget remaining, as recorded (the dashboards show the same);
* the burn rate of every window, and the ``ALERTS`` of the SLO (firing and pending tiers);
* events and errors in the period: the mean of the recorded 5-minute rates times the seconds
  those rates cover, and the oldest recorded sample in the period (how much data there is).

A grouped SLO (Pyrra ``grouping``, native ``group_by``) records one series per group: its
figures are the worst group's — the highest period error ratio, the lowest budget remaining
(that group is :attr:`SLOStatus.worst_group`), per window the highest burn rate of any group,
a tier firing when it fires for any group — and its events and errors are summed over groups.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from obskit import conventions as c
from obskit.slo._model import SLO, AlertTier, Service
from obskit.slo._promapi import PromClient, Sample
from obskit.slo._promql import string_literal

__all__ = [
    "COVERAGE_SLACK_S",
    "PROBLEM_EXIT",
    "Problem",
    "Report",
    "SLOStatus",
    "TierStatus",
    "collect",
    "human_duration",
    "window_order",
]

#: The step of the subquery that finds the oldest sample in the period; coverage is known to
#: this resolution, so a period counts as covered when data starts within two steps of its start.
COVERAGE_STEP: Final = "5m"
COVERAGE_SLACK_S: Final = 2 * 300
#: Exit code of each per-SLO problem (see docs/slo-cli.md); the smallest one present wins.
PROBLEM_EXIT: Final = {"rules_not_loaded": 5, "unknown_slo": 6, "too_little_data": 7}


@dataclass(frozen=True)
class Problem:
    """Why an SLO's figures are missing or partial: ``kind`` is a key of :data:`PROBLEM_EXIT`."""

    kind: str
    message: str


@dataclass(frozen=True)
class TierStatus:
    """One alert tier of an SLO and its state now."""

    tier: AlertTier
    #: ``firing``, ``pending``, ``inactive`` or ``disabled`` (the spec turns the severity off).
    state: str


@dataclass
class SLOStatus:
    """The figures of one SLO at the report's instant (``None``: not available)."""

    slo: SLO
    problem: Problem | None = None
    notes: list[str] = field(default_factory=list)
    error_ratio: float | None = None
    budget_remaining: float | None = None
    burn_rates: dict[str, float | None] = field(default_factory=dict)
    tiers: list[TierStatus] = field(default_factory=list)
    events: float | None = None
    errors: float | None = None
    #: Seconds of the period the recorded SLI series cover (``period_seconds`` when complete).
    data_seconds: float | None = None
    #: Grouped SLOs only: how many groups have a budget-remaining series, and the labels of the
    #: group with the least budget left (whose figures ``error_ratio``/``budget_remaining`` are).
    groups: int | None = None
    worst_group: dict[str, str] | None = None

    @property
    def period_seconds(self) -> int:
        return self.slo.period_days * 86400

    @property
    def sli(self) -> float | None:
        """The SLI over the period (share of good events), e.g. 0.99952."""
        return None if self.error_ratio is None else 1.0 - self.error_ratio

    @property
    def current_window(self) -> str:
        """The window whose burn rate is "current": the fastest page tier's long window (1h)."""
        return self.slo.tiers[0].long_window

    @property
    def current_burn_rate(self) -> float | None:
        return self.burn_rates.get(self.current_window)

    @property
    def budget_lasts_seconds(self) -> float | None:
        """How long the remaining budget lasts at the current burn rate; ``None`` when the burn
        rate is 0 (it lasts indefinitely) or a figure is missing; 0 once the budget is spent."""
        remaining, burn = self.budget_remaining, self.current_burn_rate
        if remaining is None or burn is None:
            return None
        if remaining <= 0:
            return 0.0
        if burn <= 0:
            return None
        # A burn rate of 1 spends the whole budget in one period.
        return remaining * self.period_seconds / burn

    @property
    def firing(self) -> dict[str, str]:
        """Firing tiers: name → severity."""
        return {t.tier.name: t.tier.severity for t in self.tiers if t.state == "firing"}


@dataclass
class Report:
    """Everything ``status`` and ``gate`` print."""

    at: float
    url: str
    statuses: list[SLOStatus]

    @property
    def exit_code(self) -> int:
        codes = [PROBLEM_EXIT[s.problem.kind] for s in self.statuses if s.problem]
        return min(codes, default=0)


def collect(client: PromClient, services: list[Service], at: float) -> Report:
    """Query ``client`` for every SLO of ``services`` at Unix time ``at``."""
    statuses: list[SLOStatus] = []
    for service in services:
        statuses += _service(client, service, at)
    return Report(at=at, url=client.display_url, statuses=statuses)


def _by_slo(samples: list[Sample]) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for sample in samples:
        out.setdefault(sample.labels.get(c.SLO_LABEL_SLO, ""), []).append(sample)
    return out


def _value(samples: list[Sample] | None) -> float | None:
    """The one finite value of a per-SLO result (NaN, e.g. 0/0 without traffic, is no value)."""
    if not samples or math.isnan(samples[0].value):
        return None
    return samples[0].value


def _service(client: PromClient, service: Service, at: float) -> list[SLOStatus]:
    sel = f"{c.SLO_LABEL_SERVICE}={string_literal(service.name)}"
    objectives = _by_slo(client.query(f"{c.RULE_OBJECTIVE}{{{sel}}}", at))
    ratios = _by_slo(client.query(f"{c.RULE_PERIOD_ERROR_RATIO}{{{sel}}}", at))
    remaining = _by_slo(client.query(f"{c.RULE_ERROR_BUDGET_REMAINING}{{{sel}}}", at))
    burns = _by_slo(client.query(f"{c.RULE_BURN_RATE}{{{sel}}}", at))
    alerts = _by_slo(client.query(f"{c.ALERTS_SERIES}{{{sel}}}", at))
    rule_file = f"rules/{service.name}.yaml"
    out: list[SLOStatus] = []
    for slo in service.slos:
        status = SLOStatus(slo)
        out.append(status)
        if not objectives:
            status.problem = Problem(
                "rules_not_loaded",
                f"no series recorded for service {service.name}: load {rule_file} (written by "
                "`obskit slo build`) into the server's rule_files or ruler",
            )
            continue
        if slo.name not in objectives:
            status.problem = Problem(
                "unknown_slo",
                f"the server has never recorded SLO {slo.id}: the loaded rules of "
                f"{service.name} do not include it; rebuild and reload {rule_file}",
            )
            continue
        loaded = _value(objectives[slo.name])
        if loaded is not None and abs(loaded - slo.objective_ratio) > 1e-9:
            status.notes.append(
                f"the loaded rules record objective {loaded * 100:g}% but the spec says "
                f"{slo.objective:g}%: reload {rule_file}"
            )
        if slo.sli.group_by:
            _worst_group(status, ratios.get(slo.name, []), remaining.get(slo.name, []))
        else:
            status.error_ratio = _value(ratios.get(slo.name))
            status.budget_remaining = _value(remaining.get(slo.name))
        status.burn_rates = _burn_rates(slo, burns.get(slo.name, []))
        status.tiers = _tiers(slo, alerts.get(slo.name, []))
        _period_data(client, status, at)
    return out


def _group(slo: SLO, sample: Sample) -> tuple[tuple[str, str], ...]:
    return tuple((name, sample.labels.get(name, "")) for name in slo.sli.group_by)


def _worst_group(status: SLOStatus, ratios: list[Sample], remaining: list[Sample]) -> None:
    """A grouped SLO's period figures: the group with the least budget left (ties: the first
    in label order), its error ratio, and how many groups there are."""
    slo = status.slo
    left = {_group(slo, s): s.value for s in remaining if not math.isnan(s.value)}
    status.groups = len(left)
    if not left:
        return
    group = min(sorted(left), key=lambda g: left[g])
    status.worst_group = dict(group)
    status.budget_remaining = left[group]
    by_group = {_group(slo, s): s.value for s in ratios if not math.isnan(s.value)}
    status.error_ratio = by_group.get(group)


def _burn_rates(slo: SLO, samples: list[Sample]) -> dict[str, float | None]:
    """Burn rate per window: every window an alert tier reads, plus any other recorded one."""
    rates: dict[str, float | None] = {}
    for tier in slo.tiers:
        rates.setdefault(tier.long_window, None)
        rates.setdefault(tier.short_window, None)
    for sample in samples:
        window = sample.labels.get(c.SLO_LABEL_WINDOW)
        if not window:
            continue
        current = rates.setdefault(window, None)
        if not math.isnan(sample.value):
            # Grouped SLOs: one series per group and window; the highest burn rate is shown.
            rates[window] = sample.value if current is None else max(current, sample.value)
    return dict(sorted(rates.items(), key=lambda item: window_order(item[0])))


def window_order(window: str) -> int:
    """Sort key of a window: its length in seconds (0 for anything unparsable)."""
    try:
        return c.window_seconds(window)
    except ValueError:
        return 0


def _tier_of(slo: SLO, labels: Mapping[str, str]) -> str:
    """The tier an ``ALERTS`` series stands for: its tier label (obskit's alert shape), or for a
    Sloth-shaped alert (one per severity) the severity's tier whose short window fired."""
    name = labels.get(c.ALERT_LABEL_TIER)
    if name:
        return name
    severity = labels.get(c.SLOTH_LABEL_SEVERITY, "")
    candidates = [t for t in slo.tiers if t.severity == severity]
    window = labels.get(c.SLOTH_LABEL_WINDOW)
    matching = [t for t in candidates if t.short_window == window] or candidates
    return matching[0].name if matching else ""


def _tiers(slo: SLO, alerts: list[Sample]) -> list[TierStatus]:
    states: dict[str, str] = {}
    for sample in alerts:
        name = _tier_of(slo, sample.labels)
        state = sample.labels.get(c.ALERT_STATE_LABEL, "")
        # firing wins over pending when both appear (two alert rules of one tier).
        if states.get(name) != c.ALERT_STATE_FIRING:
            states[name] = state
    out: list[TierStatus] = []
    for tier in slo.tiers:
        enabled = slo.alerting.page if tier.severity == "page" else slo.alerting.ticket
        state = states.get(tier.name, "inactive") if enabled else "disabled"
        out.append(TierStatus(tier, state))
    return out


def _period_data(client: PromClient, status: SLOStatus, at: float) -> None:
    """Events and errors in the period and how much of it the recorded SLI series cover."""
    slo = status.slo
    sel = (
        f"{{{c.SLO_LABEL_SERVICE}={string_literal(slo.service)},"
        f"{c.SLO_LABEL_SLO}={string_literal(slo.name)}}}"
    )
    events_sli = slo.sli.error_query is not None
    series = (c.RULE_SLI_TOTAL_RATE if events_sli else c.error_ratio_rule("5m")) + sel
    # Grouped SLOs: the oldest sample of any group, the events of every group.
    grouped = bool(slo.sli.group_by)
    oldest = _oldest(client, series, slo.period, at, grouped)
    period_s = status.period_seconds
    if oldest is None:
        status.data_seconds = 0.0
        status.problem = Problem(
            "too_little_data",
            f"no SLI data recorded in the {slo.period} period: the rules are loaded but the "
            "SLI's own series are missing (is the service scraped with the labels its "
            "selector expects?)",
        )
        return
    covered = min(float(period_s), max(0.0, at - oldest))
    status.data_seconds = covered
    if covered < period_s - COVERAGE_SLACK_S:
        status.problem = Problem(
            "too_little_data",
            f"too little data: the recorded SLI series cover {human_duration(covered)} of the "
            f"{slo.period} period, so the period figures are over that span only",
        )
    if events_sli:
        window = f"[{slo.period}]"
        total_q = f"avg_over_time({c.RULE_SLI_TOTAL_RATE}{sel}{window})"
        errors_q = f"avg_over_time({c.RULE_SLI_ERRORS_RATE}{sel}{window})"
        if grouped:
            # Each group's mean rate x the seconds covered: approximate for a group younger
            # than the others (its mean is over its own, shorter, history).
            total_q, errors_q = f"sum({total_q})", f"sum({errors_q})"
        total = _value(client.query(total_q, at))
        errors = _value(client.query(errors_q, at))
        # Mean rate x seconds covered = events; both series are sampled at the same instants.
        status.events = None if total is None else total * covered
        status.errors = None if errors is None else errors * covered


def _oldest(
    client: PromClient, series: str, period: str, at: float, grouped: bool = False
) -> float | None:
    """Timestamp of the oldest sample of ``series`` within the period before ``at``.

    A subquery at 5-minute steps finds it over the whole period; its steps are aligned to
    multiples of 5 minutes, so data younger than two hours is looked for again at 10 s, then 1 s
    steps.
    """
    wrap = "min({})" if grouped else "{}"
    oldest = _value(
        client.query(
            wrap.format(f"min_over_time(timestamp({series})[{period}:{COVERAGE_STEP}])"), at
        )
    )
    for span, step in (("2h", "10s"), ("10m", "1s")):
        if oldest is not None and at - oldest >= 7200:
            break
        recent = _value(
            client.query(wrap.format(f"min_over_time(timestamp({series})[{span}:{step}])"), at)
        )
        if recent is not None:
            oldest = recent if oldest is None else min(oldest, recent)
    return oldest


def human_duration(seconds: float) -> str:
    """``93784`` → ``1d 2h``; ``300`` → ``5m``; at most two units, rounded down."""
    seconds = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if parts or seconds >= size or unit == "s":
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
            if len(parts) == 2:
                break
    return " ".join(parts)
