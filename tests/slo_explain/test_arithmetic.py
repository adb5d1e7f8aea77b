"""The arithmetic of `obskit slo explain`, against figures derived independently from the SRE
Workbook facts in the team reference (burn-rates.md): budget = (1 - objective) x period, budget
consumed at burn rate r over a window w = r x w / period, time to exhaustion = period / r,
detection of a sudden error ratio e = long window x r x budget / e — delayed by the way the
rules compute the windows (docs/slo-rules.md, "How the windows are computed").

The timing figures below are derived by hand from the rules, at 1-minute scrapes and
evaluations on Prometheus 2, errors at ratio ``e`` from the scrape at minute 1:

* the recorded 5-minute error rate at minute ``k`` is ``e x min(k, 5) / 5`` of the (steady)
  request rate (``rate()`` over the samples ``k-5 … k``; once errors stop at minute ``D`` it is
  ``e x (5 - m) / 5`` at ``D + m``);
* a window of ``W`` minutes is ``sum_over_time`` of the ``W + 1`` rates ``k - W … k`` over as
  many request rates, so its ratio is ``e x S(k) / (W + 1)`` with ``S(k)`` the sum of the
  rates' shares: ``k(k+1)/10`` up to minute 4, ``k - 2`` from minute 4 on (the five-minute ramp
  costs two minutes)."""

from __future__ import annotations

import dataclasses

import pytest

from obskit.slo import SLI, SLO, Alerting, Source, explain_slo
from obskit.slo._explain import (
    Outcome,
    SLOExplanation,
    TierExplanation,
    Timing,
    parse_duration,
    simulate_incident,
)

MINUTE, HOUR, DAY = 60, 3600, 86400

_EVENTS = SLI(kind="ratio", error_query="sum(rate(e[{{.window}}]))",
              total_query="sum(rate(t[{{.window}}]))")  # fmt: skip
_RAW = SLI(kind="raw", error_ratio_query="sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))")


def _slo(objective: float = 99.9, days: int = 30, sli: SLI = _EVENTS, **alerting: object) -> SLO:
    return SLO(
        service="svc",
        name="availability",
        objective=objective,
        period_days=days,
        sli=sli,
        alerting=Alerting(name="SvcBurn", **alerting),  # type: ignore[arg-type]
        source=Source("slo/svc.yaml", 3),
    )


def _tier(e: SLOExplanation, name: str) -> TierExplanation:
    return next(t for t in e.tiers if t.tier.name == name)


def _at(t: TierExplanation, ratio: float) -> Outcome:
    return next(o for o in t.outcomes if o.error_ratio == ratio)


def test_budget_of_999_over_30_days_is_43_2_minutes_of_total_outage() -> None:
    """99.9 % over 30 days: 0.1 % of 43,200 minutes = 43.2 minutes; 99.5 % over 28 days:
    0.5 % of 40,320 minutes = 201.6 minutes."""
    assert explain_slo(_slo()).budget_outage_seconds == pytest.approx(43.2 * MINUTE)
    assert explain_slo(_slo(99.5, 28)).budget_outage_seconds == pytest.approx(201.6 * MINUTE)


@pytest.mark.parametrize(
    ("name", "long_hours", "consumed"), [("page-1h", 1, 0.02), ("page-6h", 6, 0.05),
                                         ("ticket-1d", 24, 0.10), ("ticket-3d", 72, 0.10)]
)  # fmt: skip
@pytest.mark.parametrize("days", [30, 28])
def test_burning_at_the_threshold_for_the_long_window_consumes_the_workbook_share(
    name: str, long_hours: int, consumed: float, days: int
) -> None:
    """At each tier's threshold error ratio, the long window spends the Workbook's share of the
    budget (2 %, 5 %, 10 %, 10 %) whatever the period: 14.4x over 1h consumes 2 % of a 30-day
    99.9 % budget."""
    explanation = explain_slo(_slo(days=days))
    tier = _tier(explanation, name)
    spent = tier.threshold_ratio * long_hours * HOUR / explanation.budget_outage_seconds
    assert spent == pytest.approx(consumed)


def test_thresholds_for_30_and_28_days() -> None:
    """30 days: burn rates 14.4, 6, 3, 1 → error ratios 1.44 %, 0.6 %, 0.3 %, 0.1 % on a 99.9 %
    SLO; 28 days: 13.44, 5.6, 2.8, 0.933."""
    thirty = [t.threshold_ratio for t in explain_slo(_slo()).tiers]
    assert thirty == pytest.approx([0.0144, 0.006, 0.003, 0.001])
    rates = [t.tier.burn_rate for t in explain_slo(_slo(days=28)).tiers]
    assert rates == pytest.approx([13.44, 5.6, 2.8, 28 / 30])


def test_total_outage_pages_after_crossing_plus_one_step_plus_for() -> None:
    """A total outage on 99.9 %/30d needs the 1h ratio S(k)/61 above 1.44 %, S(k) > 0.8784:
    S(2) = 0.6, S(3) = 1.2, so the expression is true at minute 3 (raw windows: minute 1),
    firing `for: 2m` later (5 min, was 3), having spent 5 / 43.2 of the budget."""
    outcome = _at(_tier(explain_slo(_slo()), "page-1h"), 1.0)
    assert outcome.condition_after == 3 * MINUTE
    assert outcome.fires_after == 5 * MINUTE
    assert outcome.budget_spent_at_fire == pytest.approx(5 / 43.2)


def test_two_percent_pages_after_43_2_minutes_plus_for() -> None:
    """2 % errors on 99.9 %/30d: the 1h ratio 0.02 x (k - 2) / 61 crosses 1.44 % when
    k - 2 > 43.92: true at minute 46 (raw windows: 43.2 min → 44), firing at 48 with `for: 2m`;
    on 28 days (13.44x) k - 2 > 40.992 → 43 → 45 (raw: 43)."""
    thirty = _at(_tier(explain_slo(_slo(), [0.02]), "page-1h"), 0.02)
    assert (thirty.condition_after, thirty.fires_after) == (46 * MINUTE, 48 * MINUTE)
    assert thirty.budget_spent_at_fire == pytest.approx(0.02 * 48 / 43.2)
    twenty_eight = _at(_tier(explain_slo(_slo(days=28), [0.02]), "page-1h"), 0.02)
    assert twenty_eight.fires_after == 45 * MINUTE


def test_below_threshold_never_fires() -> None:
    """0.5 % errors stay under the page thresholds of 99.9 % (1.44 %, 0.6 %): never; the ticket
    tiers (0.3 %, 0.1 %) fire; a ratio exactly on a threshold never fires (`>` is strict)."""
    e = explain_slo(_slo(), [0.005, 0.006])
    assert _at(_tier(e, "page-1h"), 0.005).never == "below_threshold"
    assert _at(_tier(e, "page-6h"), 0.005).never == "below_threshold"
    assert _at(_tier(e, "page-6h"), 0.006).never == "below_threshold"
    assert _at(_tier(e, "ticket-1d"), 0.005).never is None
    assert _at(_tier(e, "ticket-1d"), 0.005).fires_after is not None


def test_resolution_follows_the_short_window_and_ignores_for() -> None:
    """After a total outage the 5m ratio (5 - m)/5 drops under 1.44 % at m = 5: resolved at
    minute 5.  A window of W minutes still holds the last errors' rates until W, then the
    ramp-down's (0.8, 0.6, 0.4, 0.2: 2.0 in all) slides out: 1.2 at W + 2, 0.6 at W + 3, 0.2
    at W + 4, against thresholds of 0.006 x 31 = 0.186 (30m), 0.003 x 121 = 0.363 (2h),
    0.001 x 361 = 0.361 (6h): resolved at 35, 124 and 364 minutes (raw windows: 30, 120, 360).
    At 2 % errors the 5m ratio 0.02 x (5 - m)/5 is above 1.44 % at m = 1 only → 2.  `for:`
    plays no part (same figures without it)."""
    e = explain_slo(_slo(), [0.02])
    resolved = [_at(t, 1.0).resolves_after for t in e.tiers]
    assert resolved == [5 * MINUTE, 35 * MINUTE, 124 * MINUTE, 364 * MINUTE]
    assert _at(_tier(e, "page-1h"), 0.02).resolves_after == 2 * MINUTE
    no_for = explain_slo(_slo(page_for="", ticket_for=""), [0.02])
    assert [_at(t, 0.02).resolves_after for t in no_for.tiers] == [
        _at(t, 0.02).resolves_after for t in e.tiers
    ]
    assert _at(_tier(no_for, "page-1h"), 0.02).fires_after == 46 * MINUTE


def test_resolution_does_not_depend_on_how_long_the_errors_lasted() -> None:
    """ "Resolves after" holds for any incident that lasted past the tier's firing: total
    outages of 1 and of 2 hours (simulated by the function explain uses) resolve each tier the
    same time after their end as explain says, and fire when explain says."""
    slo = _slo()
    explained = {t.tier.name: _at(t, 1.0) for t in explain_slo(slo).tiers}
    for seconds in (HOUR, 2 * HOUR):
        for name, times in simulate_incident(slo, 1.0, seconds).items():
            assert times is not None, name
            fires, resolves = times
            assert fires == explained[name].fires_after, (name, seconds)
            assert resolves - seconds == explained[name].resolves_after, (name, seconds)


def test_time_to_exhaustion_at_each_threshold() -> None:
    """At burn rate r the 30-day budget lasts 30 d / r: 14.4 → 50 h, 6 → 5 d, 3 → 10 d,
    1 → 30 d (reported in JSON as budget_lasts_seconds, from period / burn rate)."""
    lasts = [30 * DAY / t.tier.burn_rate for t in explain_slo(_slo()).tiers]
    assert lasts == pytest.approx([50 * HOUR, 5 * DAY, 10 * DAY, 30 * DAY])


def test_low_traffic_guard_needs_min_events_per_long_window() -> None:
    """`min_events: 100` needs 100 requests per long window: 100/3600 req/s for the 1h tier,
    100/21600 for 6h.  At a steady 0.02 req/s (72 per hour, 432 per 6 h) the 1h tier never
    fires and the 6h tier fires as usual (6h ratio S(k)/361 > 0.6 %: S(4) = 2.0, S(5) = 3.0,
    true at 5, firing at 7); without a rate the guard is assumed satisfied."""
    guarded = explain_slo(_slo(min_events=100), requests_per_second=0.02)
    assert _tier(guarded, "page-1h").min_request_rate == pytest.approx(100 / 3600)
    assert _tier(guarded, "page-6h").min_request_rate == pytest.approx(100 / 21600)
    assert _at(_tier(guarded, "page-1h"), 1.0).never == "low_traffic"
    assert _at(_tier(guarded, "page-6h"), 1.0).fires_after == 7 * MINUTE
    assert explain_slo(_slo(min_events=100)).tiers[0].outcomes[0].never is None


def test_guard_does_not_apply_to_raw_ratio_slis() -> None:
    """Raw-ratio SLIs have no event counts, so the rules carry no guard: explain reports none
    and never holds a tier back for low traffic."""
    raw = explain_slo(_slo(sli=_RAW, min_events=100), requests_per_second=0.0001)
    assert not raw.guarded
    assert all(t.min_events == 0 and t.outcomes[0].never is None for t in raw.tiers)


def test_disabled_severities_have_no_tiers() -> None:
    """`page: false` leaves the two ticket tiers only, as rule generation does."""
    names = [t.tier.name for t in explain_slo(_slo(page=False)).tiers]
    assert names == ["ticket-1d", "ticket-3d"]


def test_timing_resolution_and_prometheus_3() -> None:
    """At a 30 s interval the 5m rate ramps over 10 evaluations (S(k) = k - 4.5 from k = 9)
    and the 1h window holds 121 rates: 2 % on 99.9 % needs k - 4.5 > 0.0144 x 121 / 0.02 =
    87.12, true at evaluation 92 (2760 s), firing at 2880 s (`for: 2m` = 4 evaluations).
    Prometheus 3's left-open ranges make the 1h window hold 60 rates, not 61 (the 5-minute
    rate ramps alike: ``rate()`` extrapolates to the range's start, except before the errors'
    zero): at 1.5 % errors k - 2 > 0.0144 x 60 / 0.015 = 57.6 → true at 60, firing at 62
    minutes, where Prometheus 2 needs k - 2 > 58.56 → 61 → 63."""
    half = _at(_tier(explain_slo(_slo(), [0.02], timing=Timing(30, 30)), "page-1h"), 0.02)
    assert (half.condition_after, half.fires_after) == (2760, 2880)
    three = _at(_tier(explain_slo(_slo(), [0.015], timing=Timing(60, 60, 3)), "page-1h"), 0.015)
    assert three.fires_after == 62 * MINUTE
    two = _at(_tier(explain_slo(_slo(), [0.015], timing=Timing(60, 60, 2)), "page-1h"), 0.015)
    assert two.fires_after == 63 * MINUTE
    assert Timing(60, 45).problems()
    assert Timing(60, 30).problems() == []


def test_for_durations_in_prometheus_syntax() -> None:
    """`for:` accepts Prometheus durations (1h30m, 90s, 500ms); empty or 0 is none; a `for:`
    that is not a whole number of evaluations rounds up to the next evaluation."""
    assert parse_duration("1h30m") == 5400
    assert parse_duration("500ms") == 0.5
    assert parse_duration("") == parse_duration("0") == 0
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        parse_duration("2 minutes")
    odd = explain_slo(_slo(page_for="90s"))
    # True at minute 3 (see the total outage above); 90 s rounds up to 2 evaluations.
    assert _at(_tier(odd, "page-1h"), 1.0).fires_after == 5 * MINUTE


def test_total_outage_is_always_first_and_ratios_are_not_repeated() -> None:
    """A total outage comes first; repeated ratios are explained once."""
    e = explain_slo(_slo(), [0.02, 1.0, 0.02])
    assert [o.error_ratio for o in e.tiers[0].outcomes] == [1.0, 0.02]


def test_explanations_are_plain_frozen_data() -> None:
    """Explanations are frozen dataclasses (safe to share, comparable in tests)."""
    e = explain_slo(_slo())
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.guarded = True  # type: ignore[misc]


def test_shortest_incident_that_fires() -> None:
    """A minute of errors adds 0.2 to five consecutive 5-minute rates (1.0 in all).  A 1-minute
    total outage on 99.9 %/30d does not page: the 1h ratio reaches 1/61 > 1.44 % only at
    minute 5, when the 5m rate is back to 0 at minute 6 (true once, `for: 2m` needs three).  Two
    minutes do: rates 0.2, 0.4, 0.4, 0.4, 0.4, 0.2, the 1h sum 1.0 > 0.8784 from minute 3, the
    5m rate above 1.44 % until minute 6: true at 3 … 6, firing at 5 (raw windows: 1 minute
    sufficed).  At 2 % errors the expression turns true at minute 46 (S = 44 > 43.92) and the
    5m ratio stays above 1.44 % one minute after the errors stop (0.8 x 2 % = 1.6 %), so the
    errors must last 47 minutes for the page at 48 (46 lasting minutes leave it true at 46 and
    47 only); without `for:` 46 minutes do (45 leave S(46) = 43.8)."""
    e = explain_slo(_slo(), [0.02])
    page = _tier(e, "page-1h")
    assert _at(page, 1.0).shortest_incident == 2 * MINUTE
    assert _at(page, 0.02).shortest_incident == 47 * MINUTE
    no_for = _tier(explain_slo(_slo(page_for=""), [0.02]), "page-1h")
    assert _at(no_for, 0.02).shortest_incident == 46 * MINUTE
    # 6h/30m at 100 %: the 6h sum needs S > 0.006 x 361 = 2.166 and n minutes of errors sum to
    # n at most, so 3 whole minutes (sum 2.4 at minute 5, firing at 7).
    assert _at(_tier(e, "page-6h"), 1.0).shortest_incident == 3 * MINUTE
