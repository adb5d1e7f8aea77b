"""``status`` and ``gate`` on seven days of backfilled data: the printed figures equal the sums
of the injected data.

Where the rules were evaluated matters to the last second: promtool, like Prometheus, runs each
rule group at a fixed offset within its interval, so the last evaluation before END happens a
few seconds before it and its windows hold the minute samples ``(END - w, END - 60]``.

* Burn rates of windows whose ratio rule reads the raw counters are compared *exactly* (1e-9)
  with the sums over the minute samples the recorded window really held, found from the recorded
  samples' own timestamps; a window computed from the recorded 5-minute rates (every window but
  5m) with the sums over the minute samples each recorded rate in its range held (1e-6: float
  sums), the rates' timestamps asked from the server.  (The plain error ratio of a window's
  minutes differs from that by several percent when the ratio changed within the last five
  minutes before the window: the last hour's faster burn here.)
* Period figures (ratio, SLI, budget, events, errors) are sums of the two thousand recorded
  5-minute rates in the period, each over the minute samples inside its window: the expected
  values are summed over exactly those minutes (1e-6 relative: float sums).  The plain sum over
  the period's minutes differs by up to 2e-3 (the rates of the period's last minutes are not
  recorded yet); a mean of daily ratios instead of the traffic-weighted ratio is 5 % off (a test
  below), a wrong period or window far more.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import yaml

from obskit import conventions as c

from . import _history as h
from .conftest import SHOP_SPEC, Backfilled, run_obskit

REL = 1e-6
#: A plain sum over the period's minutes against what the recorded rates hold (see the module
#: docstring).
LOOSE = 5e-3
SHAPES = {"availability": (h.AVAILABILITY, 0.001), "receipts": (h.RECEIPTS, 0.01)}
PERIOD = 7 * h.DAY
#: The line of the receipts SLO's own `policy:` key, which the gate cites.
POLICY_LINE = SHOP_SPEC.splitlines().index("    policy:") + 1


def _status(backfilled: Backfilled, *extra: str) -> Any:
    result = run_obskit(
        "slo", "status", str(backfilled.spec_dir), "--prometheus", backfilled.prometheus.url,
        "--at", str(backfilled.end), *extra,
    )  # fmt: skip
    return result


def _stamp(backfilled: Backfilled, expr: str) -> float:
    result = backfilled.prometheus.query(f"timestamp({expr})", at=backfilled.end)
    assert len(result) == 1, (expr, result)
    return float(result[0]["value"][1])


def _window_truth(backfilled: Backfilled, name: str, window: str) -> float:
    """The burn rate the recorded rules hold for ``window``: the error ratio over the minute
    samples inside the window of the ratio evaluation the burn-rate evaluation read."""
    shape, budget = SHAPES[name]
    sel = f'{{{c.SLO_LABEL_SERVICE}="shop",{c.SLO_LABEL_SLO}="{name}"}}'
    burn_sel = sel[:-1] + f',{c.SLO_LABEL_WINDOW}="{window}"}}'
    t_ratio = _stamp(backfilled, c.error_ratio_rule(window) + sel)
    t_burn = _stamp(backfilled, c.RULE_BURN_RATE + burn_sel)
    if t_ratio > t_burn:  # the burn rate read the ratio's previous evaluation
        t_ratio -= 60
    if window == "5m":  # from the recorded 5m rates: the same minute samples at their instant
        t_ratio = _stamp(backfilled, c.RULE_SLI_TOTAL_RATE + sel)
    elif not _reads_raw(backfilled, name, window):
        return _recorded_truth(backfilled, name, window, t_ratio) / budget
    last = int(t_ratio // 60) * 60
    first = -int(-(t_ratio - c.window_seconds(window)) // 60) * 60
    w_total, w_errors = h.truth(shape, first, last, backfilled.end)
    return w_errors / w_total / budget


def _recorded_truth(backfilled: Backfilled, name: str, window: str, t_ratio: float) -> float:
    """The error ratio a window computed from the recorded 5-minute rates holds when evaluated
    at ``t_ratio``: the recorded rates in its range (their timestamps asked from the server:
    backfilled ones every 300 s, live ones every 60 s), each the errors (requests) over the
    minute samples inside its own closed 5-minute window divided by the span they cover
    (``rate()`` extrapolates that span to the window by the same factor for both), summed."""
    shape, _ = SHAPES[name]
    sel = f'{{{c.SLO_LABEL_SERVICE}="shop",{c.SLO_LABEL_SLO}="{name}"}}'
    data = backfilled.prometheus.api(
        "query", query=f"{c.RULE_SLI_TOTAL_RATE}{sel}[{window}]", time=f"{t_ratio:.3f}"
    )
    (series,) = data["result"]
    errors = total = 0.0
    for stamp, _value in series["values"]:
        t = float(stamp)
        first, last = -int(-(t - 300) // 60) * 60, int(t // 60) * 60
        span_total, span_errors = h.truth(shape, first, last, backfilled.end)
        errors += span_errors / (last - first)
        total += span_total / (last - first)
    return errors / total


def _reads_raw(backfilled: Backfilled, name: str, window: str) -> bool:
    """Whether the SLO's ratio rule for ``window`` reads raw counters (not recorded rates)."""
    for path in backfilled.rule_files:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                labels = rule.get("labels", {})
                if rule.get("record") == c.error_ratio_rule(window) and (
                    labels.get(c.SLO_LABEL_SLO) == name
                ):
                    expr = rule["expr"]
                    return c.RULE_SLI_ERRORS_RATE not in expr and c.RULE_SLI_TOTAL_RATE not in expr
    raise AssertionError(f"no {c.error_ratio_rule(window)} rule for {name}")


def _rate_samples(t_latest: float, start: float, stop: float) -> list[tuple[int, int]]:
    """The minute spans ``(first, last]`` the recorded 5-minute rates in ``[start, stop]`` hold:
    one rate every 300 s at the offset of ``t_latest``, each over the minute samples inside its
    closed window ``[t - 300, t]`` (Prometheus extrapolates the increase to the window, by the
    same factor for errors and requests)."""
    t = t_latest
    while t > stop:
        t -= 300
    spans = []
    while t >= start:
        spans.append((-int(-(t - 300) // 60) * 60, int(t // 60) * 60))
        t -= 300
    return spans


def _period_truth(backfilled: Backfilled, name: str) -> dict[str, float]:
    """Period ratio, events and errors exactly as the recorded rates carry them."""
    shape, _ = SHAPES[name]
    end = backfilled.end
    sel = f'{{{c.SLO_LABEL_SERVICE}="shop",{c.SLO_LABEL_SLO}="{name}"}}'
    t_rate = _stamp(backfilled, c.RULE_SLI_TOTAL_RATE + sel)

    def ratio_at(t_period: float) -> float:
        """The period rule at ``t_period``: errors summed over its rate samples / requests."""
        spans = _rate_samples(t_rate, t_period - PERIOD, t_period)
        sums = [h.truth(shape, f, last, end) for f, last in spans]
        return sum(e for _, e in sums) / sum(t for t, _ in sums)

    # Budget remaining reads the period burn rate, which reads the period ratio: each rule's
    # latest evaluation at or before the one reading it (every 60 s, at each group's offset).
    t = _stamp(backfilled, c.RULE_ERROR_BUDGET_REMAINING + sel)
    for rule in (c.RULE_PERIOD_BURN_RATE, c.RULE_PERIOD_ERROR_RATIO):
        t_read = _stamp(backfilled, rule + sel)
        while t_read > t:
            t_read -= 60
        t = t_read
    ratio = ratio_at(_stamp(backfilled, c.RULE_PERIOD_ERROR_RATIO + sel))
    remaining_ratio = ratio_at(t)
    # status: the mean of the rates over the 7 days before END x the seconds covered.
    spans = _rate_samples(t_rate, end - PERIOD, end)
    rates = [(h.truth(shape, f, last, end), last - f) for f, last in spans]
    events = sum(t / span for (t, _), span in rates) / len(rates) * PERIOD
    errors = sum(e / span for (_, e), span in rates) / len(rates) * PERIOD
    return {"ratio": ratio, "events": events, "errors": errors, "remaining_ratio": remaining_ratio}


def _expected(name: str, backfilled: Backfilled) -> dict[str, Any]:
    budget = SHAPES[name][1]
    period = _period_truth(backfilled, name)
    ratio, total, errors = period["ratio"], period["events"], period["errors"]
    burn = {
        w: _window_truth(backfilled, name, w) for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    }
    remaining = 1 - period["remaining_ratio"] / budget
    return {
        "error_ratio": ratio,
        "sli": 1 - ratio,
        "budget_remaining": remaining,
        "events": total,
        "errors": errors,
        "burn_rates": burn,
        "budget_lasts_seconds": remaining * PERIOD / burn["1h"],
    }


def test_status_json_equals_the_figures_summed_from_the_injected_data(
    backfilled: Backfilled,
) -> None:
    """Per SLO: period error ratio, SLI, budget remaining, events, errors, the burn rate of every
    window, and how long the budget lasts at the 1h burn rate all equal the sums of the injected
    minutes; nothing fires, the whole period is covered, and the exit code is 0."""
    result = _status(backfilled, "--format", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["schema_version"] == 1
    assert body["exit_code"] == 0
    assert body["at_unix"] == backfilled.end
    by_name = {s["slo"]: s for s in body["slos"]}
    assert sorted(by_name) == ["availability", "receipts"]
    for name, got in by_name.items():
        want = _expected(name, backfilled)
        for key in ("error_ratio", "sli", "events", "errors", "budget_lasts_seconds"):
            assert got[key] == pytest.approx(want[key], rel=REL), (name, key)
        # `lasts` = remaining x period / the 1h burn rate, from the printed figures themselves
        assert got["budget_lasts_seconds"] == pytest.approx(
            got["budget_remaining"] * PERIOD / got["current_burn_rate"], rel=1e-9
        )
        assert got["budget_remaining"] == pytest.approx(want["budget_remaining"], abs=REL)
        assert list(got["burn_rates"]) == list(want["burn_rates"])
        for window, rate in want["burn_rates"].items():
            tolerance = 1e-9 if _reads_raw(backfilled, name, window) else REL
            assert got["burn_rates"][window] == pytest.approx(rate, rel=tolerance), (name, window)
        assert got["current_burn_window"] == "1h"
        assert got["current_burn_rate"] == got["burn_rates"]["1h"]
        assert got["data_seconds"] == PERIOD
        assert got["problem"] is None
        assert got["notes"] == []
        assert got["firing"] == []
        assert {t["name"]: t["state"] for t in got["tiers"]} == {
            "page-1h": "inactive", "page-6h": "inactive",
            "ticket-1d": "inactive", "ticket-3d": "inactive",
        }  # fmt: skip
        # The tier thresholds of a 7-day period, and no tier's condition holds at this instant.
        thresholds = {t["name"]: t["burn_rate_threshold"] for t in got["tiers"]}
        assert thresholds["page-1h"] == pytest.approx(3.36)
        assert want["burn_rates"]["1h"] < thresholds["page-1h"]


def test_status_is_traffic_weighted_not_a_mean_of_daily_ratios(backfilled: Backfilled) -> None:
    """The SLI differs from the mean of the days' ratios by far more than the tolerance (the
    incident fell on a busy day), and status prints the traffic-weighted one."""
    end = backfilled.end
    shape = h.AVAILABILITY
    daily = [h.truth(shape, end - (d + 1) * h.DAY, end - d * h.DAY, end) for d in range(7)]
    mean_of_ratios = sum(e / t for t, e in daily) / 7
    total, errors = h.truth(shape, end - PERIOD, end, end)
    assert not math.isclose(mean_of_ratios, errors / total, rel_tol=0.05)
    body = json.loads(_status(backfilled, "--format", "json", "--slo", "availability").stdout)
    assert body["slos"][0]["error_ratio"] == pytest.approx(errors / total, rel=LOOSE)


def test_table_prints_the_same_figures_rounded_and_plain_in_a_pipe(backfilled: Backfilled) -> None:
    """The table shows the JSON's SLI (4 decimals), budget left (1 decimal) and burn rates (2
    decimals), with no ANSI escape when stdout is a pipe."""
    result = _status(backfilled)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\033[" not in out
    figures = _json_figures(backfilled)
    for name in SHAPES:
        want = figures[name]
        row = next(line for line in out.splitlines() if line.startswith(f"shop/{name} "))
        assert f"{want['sli'] * 100:.4f}%" in row
        assert f"{want['budget_remaining'] * 100:.1f}%" in row
        burn = [line for line in out.splitlines() if line.startswith(f"shop/{name} ")][1]
        assert burn.split()[1:] == [f"{v:.2f}" for v in want["burn_rates"].values()]


def test_markdown_is_a_table_for_a_job_summary(backfilled: Backfilled) -> None:
    """Markdown output: a heading, a GitHub table row per SLO with its figures, burn rates in
    a collapsed section."""
    result = _status(backfilled, "--format", "markdown")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "### SLO status"
    want = _json_figures(backfilled)["receipts"]
    row = next(line for line in lines if line.startswith("| `shop/receipts` | 99% 7d |"))
    assert f"| {want['sli'] * 100:.4f}% | {want['budget_remaining'] * 100:.1f}% |" in row
    assert "<details><summary>Burn rate per window</summary>" in lines


def _json_figures(backfilled: Backfilled) -> dict[str, Any]:
    """The JSON figures (proven against the data above) by SLO name."""
    body = json.loads(_status(backfilled, "--format", "json").stdout)
    return {s["slo"]: s for s in body["slos"]}


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.4g}%"


def test_gate_blocks_on_the_budget_rule_and_warns_on_the_other(backfilled: Backfilled) -> None:
    """receipts has 75 % of its budget left, below its freeze_below 0.9: one BLOCK line, exit
    1; availability (51 % left) is above the service's freeze_below 0.1 but below warn_below
    0.75: one WARN line.  Nothing fires, so freeze_while_firing adds nothing."""
    result = run_obskit(
        "slo", "gate", str(backfilled.spec_dir), "--prometheus", backfilled.prometheus.url,
        "--at", str(backfilled.end),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("obskit slo gate: BLOCK: 1 policy rule(s) violated")
    figures = _json_figures(backfilled)
    receipts = figures["receipts"]["budget_remaining"]
    availability = figures["availability"]["budget_remaining"]
    assert [line for line in lines if line.startswith("BLOCK")] == [
        f"BLOCK shop/receipts: error budget remaining {_pct(receipts)} is below freeze_below "
        f"90% ({backfilled.spec_dir / 'shop.yaml'}:{POLICY_LINE})"
    ]
    assert (
        f"WARN  shop/availability: error budget remaining {_pct(availability)} is below "
        "warn_below 75%" in result.stdout
    )


def test_gate_allows_with_a_warning_when_only_warn_rules_hold(backfilled: Backfilled) -> None:
    """With only availability selected the decision is allow (exit 0) and the warning shows, in
    JSON too (decision, violations with block false)."""
    result = run_obskit(
        "slo", "gate", str(backfilled.spec_dir), "--prometheus", backfilled.prometheus.url,
        "--at", str(backfilled.end), "--slo", "availability", "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    body = json.loads(result.stdout)
    assert body["decision"] == "allow"
    assert body["exit_code"] == 0
    assert [(v["slo"], v["rule"], v["block"]) for v in body["violations"]] == [
        ("shop/availability", "warn_below", False)
    ]


def test_gate_markdown_fits_a_job_summary(backfilled: Backfilled) -> None:
    """Markdown gate output: a heading with the decision and one table row per reason."""
    result = run_obskit(
        "slo", "gate", str(backfilled.spec_dir), "--prometheus", backfilled.prometheus.url,
        "--at", str(backfilled.end), "--format", "markdown",
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "### ⛔ SLO deploy gate: BLOCK"
    assert sum(1 for line in lines if line.startswith("| BLOCK | shop/receipts:")) == 1
    assert sum(1 for line in lines if line.startswith("| WARN | shop/availability:")) == 1
