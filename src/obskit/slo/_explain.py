"""``obskit slo explain``: what each generated alert does, computed from the model alone.

For every SLO: the error budget (a ratio, and minutes of total outage over the period), and
per alert tier the error ratio above which it fires, when it fires for a sudden, steady error
ratio (a total outage and any ratio asked for), the budget spent by then, and how long it keeps
firing after the errors stop.  Nothing here talks to a server; every figure follows from the
SLO model (objective, period, tiers, ``for:``, ``min_events``) and from :class:`Timing`.

The traffic model (the assumptions every figure rests on):

* steady traffic: the same request rate before, during and after the incident;
* a clean history at least as long as the longest window before the errors start (the error
  counter exists, at 0);
* at time 0, on a scrape, the error ratio jumps from 0 to ``e`` and stays there; when the errors
  stop it drops back to 0 at once (again on a scrape);
* scrapes and rule evaluations are aligned (an evaluation happens on a scrape), the evaluation
  interval is a multiple of the scrape interval.

The times are not a formula: :mod:`obskit.slo._simulate` steps the rules' own expressions
(``rate()`` with Prometheus' extrapolation, the recorded 5-minute rates, ``sum_over_time`` per
window, the threshold, ``for:``, one evaluation of lag per group boundary of a cut group) one
evaluation at a time — the ONE place that models how the rules follow the traffic.  A ratio
exactly on a threshold is a tie that floating point may break either way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from obskit import conventions as c
from obskit.slo._model import SLO, AlertTier, Service
from obskit.slo._rules import (
    DEFAULT_MAX_RULES_PER_GROUP,
    RECORDED_WINDOWS,
    fmt_number,
    slo_group,
    split_group,
)
from obskit.slo._simulate import RATE_RANGE, Incident, Reads, TierRun, Traffic, run_tier

__all__ = [
    "SCHEMA_VERSION",
    "Outcome",
    "SLOExplanation",
    "TierExplanation",
    "Timing",
    "explain_services",
    "explain_slo",
    "explained_ratios",
    "group_reads",
    "parse_duration",
    "simulate_incident",
]

#: Version of the JSON shape printed by ``--format json`` (bumped on incompatible changes).
SCHEMA_VERSION: Final = 1
#: Every explanation includes a total outage (error ratio 1) first.
TOTAL_OUTAGE: Final = 1.0
#: Why a tier never fires for an error ratio.
NeverReason = Literal["below_threshold", "low_traffic"]

_DURATION_TOKEN_RE: Final = re.compile(r"(\d+)(ms|[smhdwy])")
_DURATION_RE: Final = re.compile(r"(?:\d+(?:ms|[smhdwy]))+\Z")
_UNIT_SECONDS: Final = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
    "y": 31536000,
}


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration (``"2m"``, ``"1h30m"``, ``"500ms"``; ``""`` or ``"0"`` → 0).

    Raises:
        ValueError: ``text`` is not a Prometheus duration.
    """
    text = text.strip()
    if text in ("", "0"):
        return 0.0
    if not _DURATION_RE.match(text):
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return float(sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_TOKEN_RE.findall(text)))


@dataclass(frozen=True)
class Timing:
    """How the ruler sees time: the figures are exact at this resolution."""

    #: Rule evaluation interval in seconds (Prometheus' ``evaluation_interval``, default 1m).
    evaluation_interval: int = 60
    #: Scrape interval in seconds (Prometheus' ``scrape_interval``, default 1m).
    scrape_interval: int = 60
    #: Prometheus 2 range selectors include a sample exactly at the window's start, 3 excludes it
    #: (so a window of ``w`` covers ``w`` of traffic in 2, ``w`` minus one scrape in 3).
    prometheus_major: int = 2

    def problems(self) -> list[str]:
        """What is wrong with these settings (empty when usable)."""
        out = []
        if self.evaluation_interval <= 0 or self.scrape_interval <= 0:
            out.append("intervals must be positive")
        elif self.evaluation_interval % self.scrape_interval:
            out.append(
                "the evaluation interval must be a multiple of the scrape interval "
                "(the model assumes every evaluation happens on a scrape)"
            )
        if self.prometheus_major not in (2, 3):
            out.append("the Prometheus major version must be 2 or 3")
        return out


@dataclass(frozen=True)
class Outcome:
    """What one tier does for one steady error ratio (times in seconds from the change)."""

    error_ratio: float
    #: ``None`` when it fires; otherwise why it never does.
    never: NeverReason | None
    #: First evaluation at which the alert's expression is true (pending, or firing without
    #: ``for:``), from the start of the errors.
    condition_after: float | None = None
    #: First evaluation at which the alert is firing (``condition_after`` + ``for:``).
    fires_after: float | None = None
    #: Share of the period's error budget spent when it starts firing (1 = all of it).
    budget_spent_at_fire: float | None = None
    #: First evaluation at which it is no longer firing, from the end of the errors (it fires
    #: for ``resolves_after - evaluation_interval`` after the last erroring scrape).
    resolves_after: float | None = None
    #: The shortest incident (errors at this ratio for this long, then none) that still fires
    #: the tier; with ``for:`` it may fire after the errors stopped.
    shortest_incident: float | None = None


@dataclass(frozen=True)
class TierExplanation:
    """One generated alert tier of an SLO."""

    tier: AlertTier
    for_seconds: float
    #: The error ratio above which it fires: burn rate x budget.
    threshold_ratio: float
    #: ``min_events`` of the guard on this tier (0: no guard).
    min_events: float
    #: Steady request rate (per second) the guard needs: ``min_events`` ÷ long window.
    min_request_rate: float
    outcomes: tuple[Outcome, ...]


@dataclass(frozen=True)
class SLOExplanation:
    """An SLO, its budget, and its generated tiers."""

    slo: SLO
    #: The error budget as seconds of total outage over the period (budget x period).
    budget_outage_seconds: float
    tiers: tuple[TierExplanation, ...]
    #: Whether the low-traffic guard is in the rules (``min_events`` and an event SLI).
    guarded: bool


def explained_ratios(error_ratios: Sequence[float]) -> tuple[float, ...]:
    """The error ratios an explanation covers: a total outage first, then the others in order
    (duplicates dropped)."""
    return tuple(dict.fromkeys([TOTAL_OUTAGE, *error_ratios]))


def group_reads(slo: SLO, max_rules: int = DEFAULT_MAX_RULES_PER_GROUP) -> dict[str, Reads]:
    """Per tier name, which of its alert's reads cross a group boundary (one evaluation late)
    once the SLO's group is cut at ``max_rules`` rules, as ``obskit slo build`` cuts it."""
    service = Service(slo.service, (slo,), slo.source)
    part: dict[str, int] = {}
    for index, group in enumerate(split_group(slo_group(slo, service), max_rules)):
        for rule in group.rules:
            name = rule.record or f"alert:{dict(rule.labels).get(c.ALERT_LABEL_TIER, '')}"
            part[name] = index
    rates = part.get(c.RULE_SLI_TOTAL_RATE, 0)
    reads = {}
    for tier in slo.tiers:
        alert = part.get(f"alert:{tier.name}", 0)
        windows = (tier.long_window, tier.short_window)
        ratio = {w: part.get(c.error_ratio_rule(w), 0) for w in windows}
        reads[tier.name] = Reads(
            rates={w: int(ratio[w] > rates) for w in windows},
            ratios={w: int(alert > ratio[w]) for w in windows},
        )
    return reads


class _Simulator:
    """The simulations of one SLO under one timing (:mod:`obskit.slo._simulate`), traffic runs
    shared between tiers."""

    def __init__(
        self, slo: SLO, timing: Timing, reads: dict[str, Reads], rps: float | None
    ) -> None:
        self.timing = timing
        self.reads = reads
        self.rps = rps or 1.0
        events = slo.sli.error_query is not None and slo.sli.total_query is not None
        self.recorded = frozenset(("5m", *RECORDED_WINDOWS)) if events else frozenset()
        # The numbers exactly as the rule text spells them.
        self.budget = float(fmt_number(slo.error_budget))
        self._traffic: dict[tuple[float, int | None], Traffic] = {}

    def traffic(self, error_ratio: float, scrapes: int | None) -> Traffic:
        key = (error_ratio, scrapes)
        if key not in self._traffic:
            traffic = self._traffic[key] = Traffic(
                Incident(error_ratio, scrapes),
                scrape=self.timing.scrape_interval,
                interval=self.timing.evaluation_interval,
                prometheus_major=self.timing.prometheus_major,
                rps=self.rps,
            )
            if scrapes is not None and (error_ratio, None) in self._traffic:
                traffic.share(self._traffic[error_ratio, None])
        return self._traffic[key]

    def run(
        self, tier: AlertTier, for_seconds: float, error_ratio: float, scrapes: int | None,
        *, stop_at_fire: bool = False, start: int = 1, fired: int | None = None,
    ) -> TierRun:  # fmt: skip
        """The tier's alert in an incident of ``scrapes`` scrapes (``None``: steady errors),
        stepped until it resolved, or could no longer fire (every window drained)."""
        i, s = self.timing.evaluation_interval, self.timing.scrape_interval
        windows = (tier.long_window, tier.short_window)
        errors = (scrapes if scrapes is not None else 0) * s
        # Errors for ever: every window full, then `for:`; errors that stop: the quicker
        # window drained (each 5-minute rate too).  A few evaluations more for cut groups.
        seconds = [c.window_seconds(w) for w in windows]
        reach = max(seconds) if scrapes is None else min(seconds)
        until = math.ceil((errors + reach + RATE_RANGE + for_seconds) / i) + 4
        return run_tier(
            self.traffic(error_ratio, scrapes),
            windows,
            budget=self.budget,
            burn_rate=float(fmt_number(tier.burn_rate)),
            for_seconds=for_seconds,
            reads=self.reads[tier.name],
            recorded=self.recorded,
            until=until,
            stop_at_fire=stop_at_fire,
            start=start,
            fired=fired,
        )

    def resolve_scrapes(self, fires: int) -> int:
        """An incident long enough that the time to resolve after it no longer depends on its
        length: until the tier fired, plus the 5-minute range and two evaluations, rounded up to
        whole evaluations (in scrapes)."""
        i, s = self.timing.evaluation_interval, self.timing.scrape_interval
        evaluations = fires + math.ceil((RATE_RANGE + 2 * i) / i)
        return evaluations * i // s

    def shortest_incident(
        self, tier: AlertTier, for_seconds: float, error_ratio: float, steady: TierRun
    ) -> float:
        """The fewest erroring scrapes that still fire the tier (binary search: more errors
        never make any window's ratio lower, so firing is monotone in the incident's length;
        an incident lasting until the steady case fires does fire).  A shorter incident's
        ratios are never above the steady one's, so its condition cannot hold before the steady
        condition did: the runs start there."""
        assert steady.fires is not None
        assert steady.condition is not None
        s = self.timing.scrape_interval
        low, high = 1, math.ceil(steady.fires * self.timing.evaluation_interval / s)
        while low < high:
            middle = (low + high) // 2
            run = self.run(
                tier, for_seconds, error_ratio, middle, stop_at_fire=True, start=steady.condition
            )
            if run.fires is not None:
                high = middle
            else:
                low = middle + 1
        return float(low * s)


def _outcome(
    sim: _Simulator,
    tier: AlertTier,
    budget: float,
    error_ratio: float,
    for_seconds: float,
    period_seconds: float,
    low_traffic: bool,
) -> Outcome:
    threshold = tier.burn_rate * budget
    if error_ratio <= threshold:
        return Outcome(error_ratio, "below_threshold")
    if low_traffic:
        return Outcome(error_ratio, "low_traffic")
    interval = sim.timing.evaluation_interval
    steady = sim.run(tier, for_seconds, error_ratio, None, stop_at_fire=True)
    if steady.fires is None or steady.condition is None:
        # Only on a float tie: the steady ratio equals the threshold as the rule computes it.
        return Outcome(error_ratio, "below_threshold")
    scrapes = sim.resolve_scrapes(steady.fires)
    # It fires when the steady case does (the rules only read the past), so only the
    # resolution is stepped through.
    after = sim.run(
        tier, for_seconds, error_ratio, scrapes, start=steady.fires + 1, fired=steady.fires
    )
    assert after.resolves is not None, "an alert whose windows drained must have resolved"
    fires = steady.fires * interval
    return Outcome(
        error_ratio=error_ratio,
        never=None,
        condition_after=steady.condition * interval,
        fires_after=fires,
        budget_spent_at_fire=error_ratio * fires / (budget * period_seconds),
        resolves_after=after.resolves * interval - scrapes * sim.timing.scrape_interval,
        shortest_incident=sim.shortest_incident(tier, for_seconds, error_ratio, steady),
    )


def simulate_incident(
    slo: SLO,
    error_ratio: float,
    seconds: int,
    *,
    timing: Timing | None = None,
    max_rules: int = DEFAULT_MAX_RULES_PER_GROUP,
) -> dict[str, tuple[float, float] | None]:
    """Per enabled tier, (fires, resolves) in seconds from the start of an incident of
    ``seconds`` (whole scrapes) at ``error_ratio``, or ``None`` if it never fires — the
    simulation explain's figures come from, for an incident of any length (a blip)."""
    timing = timing or Timing()
    sim = _Simulator(slo, timing, group_reads(slo, max_rules), None)
    scrapes = math.ceil(seconds / timing.scrape_interval)
    out: dict[str, tuple[float, float] | None] = {}
    for tier in slo.tiers:
        if not _enabled(slo, tier):
            continue
        run = sim.run(tier, _for_seconds(slo, tier), error_ratio, scrapes)
        if run.fires is None or run.resolves is None:
            out[tier.name] = None
        else:
            i = timing.evaluation_interval
            out[tier.name] = (float(run.fires * i), float(run.resolves * i))
    return out


def _for_seconds(slo: SLO, tier: AlertTier) -> float:
    return parse_duration(
        slo.alerting.page_for if tier.severity == "page" else slo.alerting.ticket_for
    )


def _enabled(slo: SLO, tier: AlertTier) -> bool:
    # The same choice as rule generation: `page: false` / `ticket: false` drop those tiers.
    return slo.alerting.page if tier.severity == "page" else slo.alerting.ticket


def explain_slo(
    slo: SLO,
    error_ratios: Sequence[float] = (),
    *,
    timing: Timing | None = None,
    requests_per_second: float | None = None,
    max_rules: int = DEFAULT_MAX_RULES_PER_GROUP,
) -> SLOExplanation:
    """Explain one SLO's generated alerts for a total outage, then each of ``error_ratios``.

    ``requests_per_second``: the steady traffic to assume for the low-traffic guard; ``None``
    assumes enough traffic that the guard never holds an alert back (its minimum rate per tier
    is reported either way).  ``max_rules``: the group limit the rules are built with
    (``--max-rules-per-group``); an alert in a later part than what it reads sees it one
    evaluation late.
    """
    timing = timing or Timing()
    sim = _Simulator(slo, timing, group_reads(slo, max_rules), requests_per_second)
    ratios = explained_ratios(error_ratios)
    period_seconds = slo.period_days * 86400.0
    budget = slo.error_budget
    events = slo.sli.error_query is not None and slo.sli.total_query is not None
    guarded = events and slo.alerting.min_events > 0
    tiers = []
    for tier in slo.tiers:
        if not _enabled(slo, tier):
            continue
        for_seconds = _for_seconds(slo, tier)
        long_seconds = c.window_seconds(tier.long_window)
        min_events = slo.alerting.min_events if guarded else 0.0
        # The guard: avg_over_time(requests/s over 5m [long]) x long >= min_events; with
        # steady traffic that is rate x long >= min_events.
        low = requests_per_second is not None and requests_per_second * long_seconds < min_events
        outcomes = tuple(
            _outcome(sim, tier, budget, r, for_seconds, period_seconds, low) for r in ratios
        )
        tiers.append(
            TierExplanation(
                tier=tier,
                for_seconds=for_seconds,
                threshold_ratio=tier.burn_rate * budget,
                min_events=min_events,
                min_request_rate=min_events / long_seconds,
                outcomes=outcomes,
            )
        )
    return SLOExplanation(
        slo=slo,
        budget_outage_seconds=budget * period_seconds,
        tiers=tuple(tiers),
        guarded=guarded,
    )


def explain_services(
    services: Sequence[Service],
    error_ratios: Sequence[float] = (),
    *,
    timing: Timing | None = None,
    requests_per_second: float | None = None,
    max_rules: int = DEFAULT_MAX_RULES_PER_GROUP,
) -> list[SLOExplanation]:
    """:func:`explain_slo` for every SLO of ``services``, in build order."""
    return [
        explain_slo(
            s,
            error_ratios,
            timing=timing,
            requests_per_second=requests_per_second,
            max_rules=max_rules,
        )
        for service in services
        for s in service.slos
    ]
