"""`promtool test rules` over simulated traffic: when each tier fires and stops, for a 30-day
and a 28-day SLO (99.9 %).

Timings are read from promtool's evaluation at 1-minute steps, so every expected time has a
tolerance of about one step: an alert is evaluated once a minute, and `rate()` over a window
sampled once a minute is off by up to one sample at the window's edges.  `for:` (2m for pages,
15m for tickets, the defaults) adds to detection, not to reset: Prometheus resolves an alert at
the first evaluation its expression is false.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from obskit import conventions as c
from obskit.slo import rule_groups, tiers_for_period
from obskit.slo._rules import RECORDED_WINDOWS, SLI_WINDOWS

from ._scenarios import (
    BUSY_RPM,
    INCIDENT_START,
    OUTAGE_MINUTES,
    QUIET_RPM,
    SCENARIOS,
    TIERS,
    Scenario,
    input_series,
    parse_measurements,
    run,
    sections,
    service_for,
    write_files,
)

PAGE_FOR, TICKET_FOR = 2, 15
#: Windows computed from the recorded 5-minute rates see a change fully 5 minutes later.
RAMP = 5
BLACKOUT_AT = 7 * 60
_SCENARIO = {s.key: s for s in SCENARIOS}


def _blackout_assertions(folder: Path) -> Path:
    """Exact alerts at 7h into a total blackout: all four tiers, labels and annotations."""
    scenario = _SCENARIO["blackout"]
    alerts = [r for r in rule_groups(service_for(scenario))[0].rules if r.alert]
    expected = []
    for rule in alerts:
        labels = dict(rule.labels)
        # Burn rate 1000 everywhere; the long window consumed 1000 * long / 30d of the budget,
        # as Prometheus' humanizePercentage prints it.
        share_text = {"1h": "138.9%", "6h": "833.3%", "1d": "3333%", "3d": "1e+04%"}[
            labels[c.ALERT_LABEL_LONG_WINDOW]
        ]
        notes = dict(rule.annotations)
        notes["description"] = re.sub(
            r"\{\{ with query .*?\{\{ end \}\}",
            share_text,
            notes["description"].replace("{{ $value | humanize }}", "1k"),
        )
        expected.append({"exp_labels": labels, "exp_annotations": notes})
    doc = {
        "rule_files": [f"{scenario.key}-rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": input_series(scenario),
            "alert_rule_test": [{"eval_time": f"{BLACKOUT_AT}m",
                                 "alertname": alerts[0].alert, "exp_alerts": expected}],
        }],
    }  # fmt: skip
    path = folder / "blackout-assert.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))
    return path


@pytest.fixture(scope="module")
def results(promtool: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run every scenario in two promtool processes; measurements per scenario key."""
    folder = tmp_path_factory.mktemp("promtool-scenarios")
    files = {s.key: write_files(folder, s) for s in SCENARIOS}
    assertions = _blackout_assertions(folder)
    first = [files[k] for k in ("burn09-30d", "outage", "idle", "uneven")] + [assertions]
    second = [files[k] for k in ("burn09-28d", "burn2", "errors2pct", "lowtraffic", "blackout")]
    procs = [run(promtool, folder, first), run(promtool, folder, second)]
    output = "".join(p.communicate(timeout=600)[0] for p in procs)
    parts = sections(output)
    measured = {}
    for scenario in SCENARIOS:
        text = parts[files[scenario.key].name]
        assert "err:" not in text, text
        measured[scenario.key] = parse_measurements(scenario, text)
    return {"measured": measured, "assert": parts[assertions.name]}


def _m(results: dict[str, Any], key: str) -> dict[str, float]:
    value: dict[str, float] = results["measured"][key]
    return value


def _slos(scenario: Scenario) -> list[tuple[str, int]]:
    return [(f"p{d}", d) for d in scenario.periods]


def test_total_outage_pages_within_minutes(results: dict[str, Any]) -> None:
    """A total outage pages (1h/5m tier) within 6 minutes: 3 minutes for the 1h ratio, computed
    from the recorded 5-minute rates, to cross 14.4x (or 13.44x) — the newest 5 minutes weigh
    in linearly, 0.2 + 0.4 + 0.6 minute of errors — one evaluation step, and `for: 2m`."""
    got = _m(results, "outage")
    for name, _ in _slos(_SCENARIO["outage"]):
        delay = got[f"{name}/page-1h/first"] - INCIDENT_START
        assert 0 < delay <= 3 + 1 + PAGE_FOR, (name, delay)


@pytest.mark.parametrize("period", [30, 28])
def test_two_percent_errors_page_after_about_45_minutes(
    results: dict[str, Any], period: int
) -> None:
    """2 % errors on a 99.9 % SLO page when the 1h ratio crosses 14.4x0.1 % (30 days: 43.2
    minutes of errors; 28 days, 13.44x: 40.3 minutes), plus the 2.5 minutes the recorded 1h
    window trails a raw one (its newest 5 minutes weigh in linearly), plus `for: 2m` — not a
    minute before, and within two minutes after (evaluation step and window edges)."""
    got = _m(results, "errors2pct")
    tier = tiers_for_period(period)[0]
    crossing = 60 * tier.burn_rate * 0.001 / 0.02
    expected = crossing + RAMP / 2 + PAGE_FOR
    first = min(
        v for k, v in got.items() if k.startswith(f"p{period}/page") and k.endswith("first")
        and v >= 0
    )  # fmt: skip
    delay = first - INCIDENT_START
    assert expected - 1 <= delay <= expected + 2, (delay, expected)
    assert got[f"p{period}/page-1h/first"] == first  # the 1h/5m pair is the one that fires


def test_steady_09_burn_never_alerts_over_three_days(results: dict[str, Any]) -> None:
    """A steady 0.9x burn (under the 1x ticket threshold, and under 28 days' 0.933x) raises
    no alert of any tier during three days."""
    for key in ("burn09-30d", "burn09-28d"):
        got = _m(results, key)
        assert set(got.values()) == {-1.0}, (key, got)


def test_steady_2x_burn_opens_a_ticket_and_never_pages(results: dict[str, Any]) -> None:
    """A steady 2x burn fires the 3d/6h ticket tier (1x) — and neither page tier (14.4x, 6x)
    nor the 1d/2h ticket (3x) — for both periods."""
    got = _m(results, "burn2")
    for name, _ in _slos(_SCENARIO["burn2"]):
        assert got[f"{name}/ticket-3d/first"] >= TICKET_FOR, got
        for tier in ("page-1h", "page-6h", "ticket-1d"):
            assert got[f"{name}/{tier}/first"] == -1, (name, tier)


def test_alert_stops_within_its_short_window_after_errors_stop(results: dict[str, Any]) -> None:
    """After a 90-minute outage each tier fires until the errors stop and resolves within its
    short window (5m, 30m, 2h, 6h) plus one evaluation step — plus 5 minutes for the 30m, 2h
    and 6h windows, computed from the recorded 5-minute rates (a change leaves them up to 5
    minutes after it leaves a raw window)."""
    got = _m(results, "outage")
    end = INCIDENT_START + OUTAGE_MINUTES
    shorts = {"page-1h": "5m", "page-6h": "30m", "ticket-1d": "2h", "ticket-3d": "6h"}
    for name, _ in _slos(_SCENARIO["outage"]):
        for tier in TIERS:
            last = got[f"{name}/{tier}/last"]
            window = shorts[tier]
            bound = c.window_seconds(window) // 60 + (RAMP if window in RECORDED_WINDOWS else 0)
            assert end <= last <= end + bound + 1, (name, tier, last - end)


def test_no_traffic_raises_nothing(results: dict[str, Any]) -> None:
    """A day without a single request raises no alert; the window ratios are NaN (0/0) and the
    budget remaining is 1 (nothing spent), not NaN."""
    got = _m(results, "idle")
    for name, _ in _slos(_SCENARIO["idle"]):
        assert all(got[f"{name}/{t}/{w}"] == -1 for t in TIERS for w in ("first", "last"))
        assert got[f"{name}/ratio_1h_nan"] == 1
        assert got[f"{name}/budget_remaining"] == 1


def test_low_traffic_guard_holds_back_a_page(results: dict[str, Any]) -> None:
    """Three failed requests out of five at night: with `min_events: 100` nothing fires; the
    same SLO without the guard pages (so the scenario itself would page)."""
    got = _m(results, "lowtraffic")
    for name, _ in _slos(_SCENARIO["lowtraffic"]):
        assert all(got[f"{name}/{t}/first"] == -1 for t in TIERS), got
    assert got["unguarded/page-1h/first"] > INCIDENT_START


def test_period_ratio_is_traffic_weighted(results: dict[str, Any]) -> None:
    """Busy 12h with no errors then quiet 12h at 50 % errors: the recorded period ratio is
    errors / requests (0.5 / 101 ≈ 0.495 %), not the average of short ratios (≈ 25 %), which
    is what the raw-ratio SLI (no event counts) can only approximate."""
    got = _m(results, "uneven")
    weighted = (QUIET_RPM / 2) / (BUSY_RPM + QUIET_RPM)
    assert got["p30/period_ratio"] == pytest.approx(weighted, rel=0.02)
    assert got["raw30/period_ratio"] == pytest.approx(0.25, rel=0.05)


def test_blackout_alerts_carry_exact_labels_and_annotations(results: dict[str, Any]) -> None:
    """promtool itself checks all four alerts of a total blackout at 7h: every label (severity,
    windows, tier, service/SLO) and the rendered summary and description (burn rate `1k`, the
    budget share computed by the `query` template function)."""
    assert "SUCCESS" in results["assert"], results["assert"]


@pytest.mark.parametrize("key", ["uneven", "blackout"])
def test_every_recording_rule_yields_one_series(results: dict[str, Any], key: str) -> None:
    """With traffic, each recording rule of each SLO produced exactly one series at the end of
    the simulation — the burn-rate rule one per window — so no rule failed at evaluation time
    (e.g. on duplicate label sets)."""
    scenario = _SCENARIO[key]
    got = _m(results, key)
    for group, name in zip(rule_groups(service_for(scenario)), scenario.slo_names, strict=True):
        records = sum(1 for rule in group.rules if rule.record) + len(SLI_WINDOWS) - 1
        assert got[f"{name}/recorded_series"] == records, (name, records)
