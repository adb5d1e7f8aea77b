"""`promtool test rules` for how the windows are computed (docs/slo-rules.md):

* groups cut at a small rule limit, evaluated in the worst order, still fire and reset as the
  alert table says, at most one evaluation step later per group boundary crossed;
* under bursty traffic the windows longer than 5m, computed from the recorded 5-minute
  rates, stay within the raw ratios of the last 5 minutes, and the alerts fire as the
  raw-window (Sloth-shaped) alerts do, at most 5 minutes later;
* right after the rules first run, without a backfill, the long windows cover only the time
  since then (documented; a backfill makes them equal the raw windows);
* across a Prometheus restart, the long windows lose the minutes it was down.
"""

from __future__ import annotations

import pytest

from obskit import conventions as c
from obskit.slo._rules import RECORDED_WINDOWS, SLI_WINDOWS

from ._scenarios import (
    SCENARIOS,
    TIERS,
    Scenario,
    parse_measurements,
    run,
    sections,
    write_files,
)
from ._window_scenarios import (
    BURST_AFTER,
    BURST_MINUTES,
    BURST_RATIO,
    DEPLOY_AT,
    HIDDEN_DOWN,
    HIDDEN_OUTAGE,
    RESTART_DOWN,
    WINDOW_SCENARIOS,
)

PAGE_FOR = 2


def bracket_tolerance(window: str) -> float:
    """How far outside the bracket of raw ratios a recorded window may be: Prometheus 2.x range
    selectors include both ends, so `[30m]` holds one evaluation (here a minute) more than 30
    minutes: twice that sample's share of the window (30m: 6.7 %, 2h: 1.7 %, 1d: 0.14 %), plus
    0.1 % for `rate()`'s extrapolation in the first 5-minute rates of the simulation."""
    return 2 / (c.window_seconds(window) / 60) + 0.001


_ALL = {s.key: s for s in SCENARIOS + WINDOW_SCENARIOS}
_UNCUT = {"cut-outage": "outage", "cut-errors2pct": "errors2pct"}


@pytest.fixture(scope="module")
def got(promtool: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    """Every window scenario (and the two uncut ones they compare with), in two promtool
    processes; measurements per scenario key."""
    folder = tmp_path_factory.mktemp("window-scenarios")
    scenarios: list[Scenario] = [_ALL[k] for k in _UNCUT.values()] + WINDOW_SCENARIOS
    files = {s.key: write_files(folder, s) for s in scenarios}
    first = [files[k] for k in ("outage", "cut-outage", "bursty", "restart-hidden")]
    second = [files[s.key] for s in scenarios if files[s.key] not in first]
    procs = [run(promtool, folder, first), run(promtool, folder, second)]
    parts = sections("".join(p.communicate(timeout=900)[0] for p in procs))
    result = {}
    for scenario in scenarios:
        text = parts[files[scenario.key].name]
        assert "err:" not in text, text
        result[scenario.key] = parse_measurements(scenario, text)
    return result


@pytest.mark.parametrize("key", sorted(_UNCUT))
def test_cut_groups_fire_and_reset_at_most_two_steps_later(
    got: dict[str, dict[str, float]], key: str
) -> None:
    """Each SLO cut at 5 rules per group (an alert reads rules up to two groups back), groups
    evaluated last part first: every tier fires and resets as in one group, at most one step
    per group boundary later (2 minutes here), never earlier, never a tier more or less."""
    cut, whole = got[key], got[_UNCUT[key]]
    assert cut.keys() == whole.keys()
    for name, value in whole.items():
        if value == -1:
            assert cut[name] == -1, name
        else:
            assert 0 <= cut[name] - value <= 2, (name, value, cut[name])


def test_bursty_long_windows_stay_within_the_last_five_minutes_of_raw_ratios(
    got: dict[str, dict[str, float]],
) -> None:
    """Under bursty traffic (1-minute spikes x8 and dips x0.05, error bursts of 3-25 minutes at
    2-40 %), each window longer than 5m, computed from the recorded 5-minute rates, lies
    between the lowest and highest raw-counter ratio of the same window ending 0-5 minutes
    earlier (within one sample's share of the window, see `bracket_tolerance`), at every minute
    of 30 hours."""
    bursty = got["bursty"]
    assert set(SLI_WINDOWS[1:]) == set(RECORDED_WINDOWS)
    for window in RECORDED_WINDOWS:
        tolerance = bracket_tolerance(window)
        assert bursty[f"above/{window}"] <= tolerance, (window, bursty[f"above/{window}"])
        assert bursty[f"below/{window}"] <= tolerance, (window, bursty[f"below/{window}"])


def test_bursty_alerts_fire_like_raw_window_alerts(got: dict[str, dict[str, float]]) -> None:
    """The same bursty day: every tier fires, and starts and stops firing at the same minute
    as the same tier computed from raw `rate(…[w])` windows, or up to 5 minutes later."""
    bursty = got["bursty"]
    for tier in TIERS:
        for what in ("first", "last"):
            ours, raw = bursty[f"p30/{tier}/{what}"], bursty[f"raw/{tier}/{what}"]
            assert raw > 0, (tier, what)
            assert 0 <= ours - raw <= 5, (tier, what, ours, raw)


def test_fresh_deployment_without_backfill_sees_only_the_time_since(
    got: dict[str, dict[str, float]],
) -> None:
    """Rules first run after a day of clean traffic; 30 minutes later, 20 minutes at 2 %
    errors.  Without a backfill every window longer than 5m covers only the time since the
    rules first ran (the ratio since then), so a burst the raw 6h/1d/3d windows dilute fires
    page-6h and both tickets; the raw-window alerts stay silent."""
    fresh = got["fresh"]
    since = BURST_MINUTES * BURST_RATIO / (_ALL["fresh"].minutes - DEPLOY_AT)
    for window in ("6h", "1d", "3d"):
        assert fresh[f"recorded/{window}"] == pytest.approx(since, rel=0.01), window
    assert fresh["raw/1d"] == pytest.approx(BURST_MINUTES * BURST_RATIO / 1440, rel=0.01)
    assert DEPLOY_AT < fresh["p30/page-6h/first"] < DEPLOY_AT + BURST_AFTER + BURST_MINUTES + 5
    assert fresh["p30/ticket-3d/first"] > 0
    assert all(fresh[f"raw/{t}/first"] == -1 for t in TIERS)


def test_fresh_deployment_with_backfill_behaves_like_raw_windows(
    got: dict[str, dict[str, float]],
) -> None:
    """The same traffic with the 5-minute rates backfilled (what `promtool tsdb
    create-blocks-from rules` writes): the long windows stay within the raw bracket and no
    tier fires, like the raw-window alerts."""
    backfilled = got["backfilled"]
    for window in RECORDED_WINDOWS:
        tolerance = bracket_tolerance(window)
        assert backfilled[f"above/{window}"] <= tolerance, window
        assert backfilled[f"below/{window}"] <= tolerance, window
    assert all(backfilled[f"p30/{t}/first"] == -1 for t in TIERS)
    assert all(backfilled[f"raw/{t}/first"] == -1 for t in TIERS)


def test_restart_during_an_outage(got: dict[str, dict[str, float]]) -> None:
    """Prometheus down 20 minutes in the middle of a 100-minute outage: the page fires again
    within `for: 2m` and one step of the restart; afterwards the long windows are the ratio of
    the minutes that were recorded (the 20 minutes down are missing from them, not counted as
    errors), where raw windows count them through the counters."""
    restart = got["restart"]
    down_start, down_end = RESTART_DOWN
    assert down_end < restart["p30/page-1h/first_after"] <= down_end + 1 + PAGE_FOR
    # At the end (570 min) the 6h window spans 210-570: errors 350-450, minus the gap.
    recorded_errors = (450 - 350) - (down_end - down_start)
    assert restart["recorded/6h"] == pytest.approx(
        recorded_errors / (360 - (down_end - down_start)), rel=0.05
    )
    assert restart["raw/6h"] == pytest.approx(100 / 360, rel=0.01)
    for tier in TIERS:
        assert abs(restart[f"p30/{tier}/last"] - restart[f"raw/{tier}/last"]) <= 5, tier


def test_outage_entirely_inside_a_restart_is_not_seen(got: dict[str, dict[str, float]]) -> None:
    """A 15-minute outage that starts and ends while Prometheus is down: the recorded windows
    never see it (nothing fires); raw windows see it afterwards through the counters, and the
    raw-window page-6h and tickets fire after the restart."""
    hidden = got["restart-hidden"]
    assert HIDDEN_DOWN[0] < HIDDEN_OUTAGE[0] < HIDDEN_OUTAGE[1] < HIDDEN_DOWN[1]
    for window in RECORDED_WINDOWS:
        assert hidden[f"recorded/{window}"] == 0, window
    assert hidden["raw/6h"] == pytest.approx(15 / 360, rel=0.01)
    assert all(hidden[f"p30/{t}/first"] == -1 for t in TIERS)
    assert hidden["raw/page-6h/first"] > HIDDEN_DOWN[1]
