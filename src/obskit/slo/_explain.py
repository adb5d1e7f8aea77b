"""``obskit slo explain``: what each generated alert does, computed from the model alone.

For every SLO: the error budget (a ratio, and minutes of total outage over the period), and
per alert tier the error ratio above which it fires, when it fires for a sudden, steady error
ratio (a total outage and any ratio asked for), the budget spent by then, and how long it keeps
firing after the errors stop.  Nothing here talks to a server; every figure follows from the
SLO model (objective, period, tiers, ``for:``, ``min_events``) and from :class:`Timing`.

The traffic model (the assumptions every figure rests on):

* steady traffic: the same request rate before, during and after the incident, so every
  window's error ratio is the error ratio of the *time* it covers;
* a clean history at least as long as the longest window before the errors start;
* at time 0, on a scrape, the error ratio jumps from 0 to ``e`` and stays there; when the errors
  stop it drops back to 0 at once (again on a scrape);
* scrapes and rule evaluations are aligned (an evaluation happens on a scrape), the evaluation
  interval is a multiple of the scrape interval.

The rounding (exact to the evaluation, as ``promtool test rules`` and Prometheus do it): the
rules are evaluated at multiples of the evaluation interval ``i``; a tier's expression is true
at the first evaluation where *both* window ratios are strictly above ``burn rate x budget``;
``for: F`` turns it firing at the first evaluation at least ``F`` after that one (so
``ceil(F / i)`` evaluations later); it resolves at the first evaluation where either ratio is no
longer above the threshold (``for:`` never delays resolution).  A ratio exactly on a threshold
is a tie that floating point may break either way.

How a window's ratio lags the traffic is modelled in ONE place, :func:`window_timing`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from obskit import conventions as c
from obskit.slo._model import SLO, AlertTier, Service
from obskit.slo._rules import RECORDED_WINDOWS

__all__ = [
    "SCHEMA_VERSION",
    "Outcome",
    "SLOExplanation",
    "TierExplanation",
    "Timing",
    "WindowTiming",
    "explain_services",
    "explain_slo",
    "explained_ratios",
    "parse_duration",
    "window_timing",
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
class WindowTiming:
    """How one window's recorded error ratio follows the traffic.

    At evaluation time ``t`` the ratio is the error ratio of the traffic in
    ``(t - lag - span, t - lag]``.
    """

    span: float
    lag: float
    #: Seconds over which a step ramps in (0: at once).  A window computed from the recorded
    #: 5-minute rates sees a step through rates that take 5 minutes to fill: ``lag`` is that
    #: ramp's average delay, exact once the ramp is over (see :func:`rise`).
    ramp: float = 0.0


def window_timing(window: str, timing: Timing) -> WindowTiming:
    """THE one place that models how a window's ratio rule lags and smooths the traffic.

    ``obskit_slo:sli_error:ratio_rate5m`` is the ratio of the two recorded ``rate()``s over the
    raw counters; every longer window (:data:`RECORDED_WINDOWS`) is ``sum_over_time`` of them —
    modelled below as a box late by half the 5-minute ramp, which is only approximate while the
    ramp is not over (``tests/slo_rules/test_explain_promtool.py`` still disagrees by a few
    minutes on some cases after the windows moved to recorded rates).  Before that change, every
    window was ``rate()`` over the raw counters in the
    same group as the alerts, evaluated just before them at the same timestamp: no lag, and a
    span of ``w`` (Prometheus 2 includes the sample at ``t - w``; in Prometheus 3 the range is
    left-open, so with aligned scrapes it spans one scrape less).  ``rate()``'s extrapolation
    scales errors and requests alike, so it cancels in the ratio.

    If the rules change, change this function only, e.g.: a ratio read from another rule group
    (previous cycle's value) adds one evaluation interval of ``lag``; a window computed as
    ``sum_over_time`` of the recorded 5-minute rates sees a step in the error ratio through 5m
    rates that ramp up over 5 minutes, which is about ``(5m - evaluation interval) / 2`` of
    ``lag`` (2 minutes at 1m evaluations) once the ramp is over — an approximation near the
    start of the ramp.  ``tests/slo_rules/test_explain_promtool.py`` says whether the model
    still matches the rules to the minute.
    """
    seconds = float(c.window_seconds(window))
    span = seconds if timing.prometheus_major == 2 else seconds - timing.scrape_interval
    if window in RECORDED_WINDOWS:
        # ``sum_over_time`` of the recorded 5-minute rates: the mean of the raw windows ending
        # 0 … 5m - evaluation interval earlier (docs/slo-rules.md), so on average late by half
        # of that; Prometheus 2's closed range holds one evaluation more.
        lag = (300.0 - timing.evaluation_interval) / 2
        if timing.prometheus_major == 2:
            span = seconds + timing.evaluation_interval
        return WindowTiming(span=span, lag=lag, ramp=300.0)
    return WindowTiming(span=span, lag=0.0)


def rise(window: WindowTiming, share: float, interval: int) -> float:
    """Seconds after a step in the error ratio until ``share`` of the window holds errors.

    Without a ramp: ``lag + share x span``.  With one (recorded 5-minute rates sampled every
    ``interval``), the k-th sample after the step holds min(k x interval, ramp) / ramp of the
    new ratio, so the errors held after n samples are n(n+1)/2m samples' worth while n <= m =
    ramp / interval, and n - (m-1)/2 after: the box model once the ramp is over.
    """
    if window.ramp <= 0:
        return window.lag + share * window.span
    m = window.ramp / interval
    need = share * window.span / interval
    if need >= (m + 1) / 2:
        return window.lag + share * window.span
    return (math.sqrt(1 + 8 * m * need) - 1) / 2 * interval


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


def _first_eval_after(seconds: float, interval: int) -> float:
    """The first evaluation strictly after ``seconds`` (evaluations at multiples of ``interval``).

    Rounded to 1e-9 intervals first, so our own float noise does not move a result by a step.
    """
    return (math.floor(round(seconds / interval, 9)) + 1) * interval


def _first_eval_from(seconds: float, interval: int) -> float:
    """The first evaluation at or after ``seconds``."""
    return max(0, math.ceil(round(seconds / interval, 9))) * interval


def _outcome(
    tier: AlertTier,
    budget: float,
    error_ratio: float,
    for_seconds: float,
    period_seconds: float,
    timing: Timing,
    low_traffic: bool,
) -> Outcome:
    threshold = tier.burn_rate * budget
    if error_ratio <= threshold:
        return Outcome(error_ratio, "below_threshold")
    if low_traffic:
        return Outcome(error_ratio, "low_traffic")
    interval = timing.evaluation_interval
    # A window's ratio at t is e x (erroring part of its span) / span.  It exceeds the
    # threshold once the erroring part exceeds `share` of the span; after the errors stop it
    # keeps exceeding it until less than `share` of the span still holds errors.
    share = threshold / error_ratio
    windows = [window_timing(w, timing) for w in (tier.long_window, tier.short_window)]
    start = max(_first_eval_after(rise(w, share, interval), interval) for w in windows)
    stop = min(_first_eval_from(w.lag + (1 - share) * w.span, interval) for w in windows)
    fires = start + math.ceil(round(for_seconds / interval, 9)) * interval
    return Outcome(
        error_ratio=error_ratio,
        never=None,
        condition_after=start,
        fires_after=fires,
        budget_spent_at_fire=error_ratio * fires / (budget * period_seconds),
        resolves_after=stop,
        shortest_incident=_shortest_incident(windows, share, fires, timing),
    )


def _shortest_incident(
    windows: list[WindowTiming], share: float, fires: float, timing: Timing
) -> float:
    """The shortest run of errors (whole scrapes) after which the tier still fires.

    Errors lasting ``d`` fill at most ``d`` of a window, so every window needs ``d`` above
    ``share`` of its span.  The expression is then true from ``fires - for`` until the first
    evaluation at or after ``d + lag + (1 - share) x span`` (the earliest window to drain), and
    pending keeps counting ``for:`` after the errors stopped: the tier fires if that end comes
    after ``fires``.  So a short blip can page minutes after it is over.
    """
    scrape, interval = timing.scrape_interval, timing.evaluation_interval
    need = max(share * w.span for w in windows)
    d = _first_eval_after(need, scrape)
    while _first_eval_from(min(d + w.lag + (1 - share) * w.span for w in windows), interval) <= (
        fires
    ):
        d += scrape
    return d


def _enabled(slo: SLO, tier: AlertTier) -> bool:
    # The same choice as rule generation: `page: false` / `ticket: false` drop those tiers.
    return slo.alerting.page if tier.severity == "page" else slo.alerting.ticket


def explain_slo(
    slo: SLO,
    error_ratios: Sequence[float] = (),
    *,
    timing: Timing | None = None,
    requests_per_second: float | None = None,
) -> SLOExplanation:
    """Explain one SLO's generated alerts for a total outage, then each of ``error_ratios``.

    ``requests_per_second``: the steady traffic to assume for the low-traffic guard; ``None``
    assumes enough traffic that the guard never holds an alert back (its minimum rate per tier
    is reported either way).
    """
    timing = timing or Timing()
    ratios = explained_ratios(error_ratios)
    period_seconds = slo.period_days * 86400.0
    budget = slo.error_budget
    events = slo.sli.error_query is not None and slo.sli.total_query is not None
    guarded = events and slo.alerting.min_events > 0
    tiers = []
    for tier in slo.tiers:
        if not _enabled(slo, tier):
            continue
        for_text = slo.alerting.page_for if tier.severity == "page" else slo.alerting.ticket_for
        for_seconds = parse_duration(for_text)
        long_seconds = c.window_seconds(tier.long_window)
        min_events = slo.alerting.min_events if guarded else 0.0
        # The guard: avg_over_time(requests/s over 5m [long]) x long >= min_events; with
        # steady traffic that is rate x long >= min_events.
        low = requests_per_second is not None and requests_per_second * long_seconds < min_events
        outcomes = tuple(
            _outcome(tier, budget, r, for_seconds, period_seconds, timing, low) for r in ratios
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
) -> list[SLOExplanation]:
    """:func:`explain_slo` for every SLO of ``services``, in build order."""
    return [
        explain_slo(s, error_ratios, timing=timing, requests_per_second=requests_per_second)
        for service in services
        for s in service.slos
    ]
