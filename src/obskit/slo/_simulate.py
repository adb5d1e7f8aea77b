"""An exact, discrete simulation of what the generated rules evaluate, for ``obskit slo explain``.

Closed-form timings (a box that lags the traffic by some share of the 5-minute ramp) kept being
off by one or two evaluations once the long windows became ``sum_over_time`` of the recorded
5-minute rates.  So explain does not model the windows: it replays, one evaluation at a time,
the very expressions the rules evaluate, on the traffic explain assumes:

* scrapes every ``scrape_interval`` of two counters: requests at a steady rate, with a history
  longer than every window; errors at 0 (present, never incremented) until time 0, then ``e``
  of the requests for ``n`` scrapes (or for ever), then none again;
* at every evaluation (multiples of ``evaluation_interval``) the two 5-minute rates, computed as
  Prometheus' ``rate()`` does (``extrapolatedRate`` in ``promql/functions.go``: the samples in
  the range — closed ``[t-5m, t]`` in Prometheus 2, left-open in 3 —, extrapolated towards the
  range's edges by at most 1.1 average intervals and never below the counter's zero);
* each window's ratio, for an events SLI: 5m as ``errors_rate / total_rate``, a longer one
  (``RECORDED_WINDOWS``) as ``sum_over_time`` of both recorded rates over the window (same
  range rule), divided; for a raw-ratio SLI (nothing recorded) ``rate(errors[w]) /
  rate(requests[w])``;
* the alert: both window ratios ``/ budget > burn rate``, as the rule text spells the numbers;
  pending from the first true evaluation, firing once true for ``for:``, resolved at the first
  false evaluation;
* reads across rule groups (a group cut by ``--max-rules-per-group``): a rule reading a series
  recorded by an earlier part sees it one evaluation late (the worst case in Prometheus, where
  groups run at different offsets; exactly what ``promtool test rules`` does when the later
  part is evaluated first).

Only the recent past is stepped through: before time 0 every series is steady, so a window
reaching further back adds that steady value once per evaluation it covers (prefix sums).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from obskit import conventions as c

__all__ = ["Incident", "Reads", "TierRun", "Traffic", "run_tier"]

#: The range of the recorded rates (``obskit_slo:sli_errors:rate5m`` and the total).
RATE_RANGE: Final = 300


@dataclass(frozen=True)
class Reads:
    """How late, in evaluations (0 or 1), each read of the alert's inputs sees its input.

    ``rates[w]``: window ``w``'s ratio rule reading the 5-minute rates; ``ratios[w]``: the alert
    reading window ``w``'s ratio.  All 0 when the SLO's rules are one group."""

    rates: Mapping[str, int] = field(default_factory=dict)
    ratios: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Incident:
    """Errors at ``error_ratio`` for ``scrapes`` scrapes from time 0 (``None``: for ever)."""

    error_ratio: float
    scrapes: int | None


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _rate(
    first: float, increase: float, first_t: int, last_t: int, samples: int, start: int, end: int
) -> float:
    """Prometheus' ``extrapolatedRate`` for a counter (no resets) sampled at regular times."""
    if samples < 2:
        return 0.0
    sampled = float(last_t - first_t)
    average = sampled / (samples - 1)
    to_start, to_end = float(first_t - start), float(end - last_t)
    if increase > 0 and first >= 0:
        to_zero = sampled * (first / increase)
        if to_zero < to_start:
            to_start = to_zero
    threshold = average * 1.1
    extrapolated = sampled
    extrapolated += to_start if to_start < threshold else average / 2
    extrapolated += to_end if to_end < threshold else average / 2
    return increase * (extrapolated / sampled) / (end - start)


class Traffic:
    """One incident's counters and recorded 5-minute rates, computed as far as asked."""

    def __init__(
        self, incident: Incident, *, scrape: int, interval: int, prometheus_major: int, rps: float
    ) -> None:
        self.scrape, self.interval, self.major = scrape, interval, prometheus_major
        self.incident = incident
        self.per_scrape = rps * scrape
        self.errors_per_scrape = self.per_scrape * incident.error_ratio
        # Every evaluation falls on a scrape, so every range holds its samples at the same
        # offsets: the request rate (steady traffic) is the same at every evaluation, and an
        # error rate depends only on the error counts at the range's first and last sample.
        self.steady_total = self._total_rate(0, RATE_RANGE)
        self._memo: dict[tuple[int, int, int], float] = {}
        # Recorded error rates at evaluations 0, 1, 2 … and their prefix sums (index k holds
        # the sum of evaluations 0 … k-1).
        self.errors: list[float] = []
        self._sum_errors = [0.0]

    def share(self, longer: Traffic) -> None:
        """Take over the rates of ``longer`` (same errors, for more scrapes, or for ever) up to
        the last evaluation before these errors stop: the rules only read the past."""
        n = self.incident.scrapes
        if n is None or longer.incident.error_ratio != self.incident.error_ratio:
            return
        k = min(n * self.scrape // self.interval + 1, len(longer.errors))
        if k > len(self.errors):
            self.errors = longer.errors[:k]
            self._sum_errors = longer._sum_errors[: k + 1]

    # -- scrapes and rate() ---------------------------------------------------------------------

    def _samples(self, t: int, length: int) -> tuple[int, int]:
        """First and last scrape index in the range of ``length`` seconds ending at ``t``."""
        start = t - length
        first = _ceil_div(start, self.scrape) if self.major == 2 else start // self.scrape + 1
        return first, t // self.scrape

    def _errors_rate(self, t: int, length: int) -> float:
        first, last = self._samples(t, length)
        n = self.incident.scrapes
        # Erroring scrapes up to the range's first and last sample.
        before = max(first, 0) if n is None else min(max(first, 0), n)
        upto = max(last, 0) if n is None else min(max(last, 0), n)
        if upto == before:
            return 0.0
        # Once the count at the first sample is at least the increase, the zero point lies
        # before the range's start (no capping): every such range gives the same rate.
        key = (length, min(before, upto - before), upto - before)
        rate = self._memo.get(key)
        if rate is None:
            s, per = self.scrape, self.errors_per_scrape
            samples = last - first + 1
            value, increase = per * before, per * (upto - before)
            rate = _rate(value, increase, first * s, last * s, samples, t - length, t)
            self._memo[key] = rate
        return rate

    def _total_rate(self, t: int, length: int) -> float:
        # The requests counter has a history far longer than any range: its zero point is
        # never closer than the range's start, so only the edge extrapolation applies.
        first, last = self._samples(t, length)
        increase = self.per_scrape * (last - first)
        s = self.scrape
        return _rate(1e300, increase, first * s, last * s, last - first + 1, t - length, t)

    def raw_ratio(self, k: int, length: int) -> float:
        """``rate(errors[w]) / rate(requests[w])`` at evaluation ``k`` (raw-ratio SLIs)."""
        t = k * self.interval
        return self._errors_rate(t, length) / self._total_rate(t, length)

    # -- recorded rates -------------------------------------------------------------------------

    def _extend(self, k: int) -> None:
        errors, sums, interval = self.errors, self._sum_errors, self.interval
        while len(errors) <= k:
            e = self._errors_rate(len(errors) * interval, RATE_RANGE)
            errors.append(e)
            sums.append(sums[-1] + e)

    def rate5m(self, k: int) -> tuple[float, float]:
        """The two recorded 5-minute rates at evaluation ``k`` (steady before 0)."""
        if k < 0:
            return 0.0, self.steady_total
        if k >= len(self.errors):
            self._extend(k)
        return self.errors[k], self.steady_total

    def _window(self, k: int, length: int) -> int:
        """First evaluation index whose sample falls in the range ending at evaluation ``k``."""
        start = k * self.interval - length
        if self.major == 2:
            return _ceil_div(start, self.interval)
        return start // self.interval + 1

    def sums(self, k: int, length: int, delay: int) -> tuple[float, float]:
        """``sum_over_time`` of both recorded rates over ``length`` at evaluation ``k``, seeing
        the rates written up to evaluation ``k - delay``."""
        lo, hi = self._window(k, length), k - delay
        totals = self.steady_total * max(hi - lo + 1, 0)
        lo = max(lo, 0)
        if hi < lo:
            return 0.0, totals
        if hi >= len(self.errors):
            self._extend(hi)
        return self._sum_errors[hi + 1] - self._sum_errors[lo], totals


@dataclass(frozen=True)
class TierRun:
    """When one tier's expression held and fired in one incident (evaluation indices)."""

    condition: int | None
    fires: int | None
    #: First evaluation after firing at which it no longer fires.
    resolves: int | None


def _ratio(traffic: Traffic, window: str, k: int, delays: Reads, recorded: frozenset[str]) -> float:
    """Window ``window``'s ratio as the alert reads it at evaluation ``k``."""
    k -= delays.ratios.get(window, 0)
    delay = delays.rates.get(window, 0)
    length = c.window_seconds(window)
    if window not in recorded:
        return traffic.raw_ratio(k, length)
    if window == "5m":
        errors, total = traffic.rate5m(k - delay)
        return errors / total
    errors, total = traffic.sums(k, length, delay)
    return errors / total


def run_tier(
    traffic: Traffic,
    windows: tuple[str, str],
    *,
    budget: float,
    burn_rate: float,
    for_seconds: float,
    reads: Reads,
    recorded: frozenset[str],
    until: int,
    stop_at_fire: bool = False,
    start: int = 1,
    fired: int | None = None,
) -> TierRun:
    """Step one tier's alert through evaluations ``start`` … ``until``.

    ``start`` skips evaluations known to be false (for an incident no larger than one already
    simulated, before that one's condition held); ``fired``: the alert already fires there (an
    incident that lasts beyond an earlier run's firing), only its resolution is sought (the
    result's ``condition`` is then ``fired``)."""
    interval = traffic.interval
    condition: int | None = fired
    fires = fired
    for k in range(start, until + 1):
        true = (
            _ratio(traffic, windows[0], k, reads, recorded) / budget > burn_rate
            and _ratio(traffic, windows[1], k, reads, recorded) / budget > burn_rate
        )
        if fires is not None:
            if not true:
                return TierRun(condition, fires, k)
        elif true:
            if condition is None:
                condition = k
            if (k - condition) * interval >= for_seconds:
                fires = k
                if stop_at_fire:
                    return TierRun(condition, fires, None)
        else:
            condition = None
    return TierRun(condition, fires, None)
