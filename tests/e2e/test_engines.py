"""The same rules on Prometheus and on VictoriaMetrics (vmagent + vmalert), alerts delivered
through a real Alertmanager to page and ticket webhooks.  The stack: :mod:`tests.e2e._engines`.
"""

from __future__ import annotations

import re
import subprocess
from datetime import datetime
from typing import Any

import pytest
import yaml

from obskit import conventions as c

from ._engines import ENGINES, GOOD_SLOS, IDLE_SLO, EngineRun, poll, value
from ._traffic import Call

#: As in test_slo_rules: the engines hold exact counts and every series' first sample is a
#: baseline both engines leave out, so only floating-point rounding is left.
RELATIVE_TOLERANCE = 0.01
#: The alert tiers the error phase must fire (latency never pages: ``page: false``).
EXPECTED_TIERS = {
    ("checkout", "availability", tier) for tier in ("page-1h", "page-6h", "ticket-1d", "ticket-3d")
} | {("checkout", "latency", tier) for tier in ("ticket-1d", "ticket-3d")}
EXPECTED_TIERS |= {
    ("search", "query-errors", tier) for tier in ("page-1h", "page-6h", "ticket-1d", "ticket-3d")
}


def _is_error(slo: str, call: Call) -> bool | None:
    """Whether ``call`` is an error of ``slo`` (``None``: not an event of that SLO)."""
    if slo == "availability":
        return call.fail or call.throttle if call.route in ("/cart/{id}", "/checkout") else None
    if slo == "latency":
        return call.slow if (call.method, call.route) == ("POST", "/checkout") else None
    return call.fail if call.route == "/search" else None


def injected_ratio(run: EngineRun, slo: str) -> float:
    """Errors / events of ``slo`` among the requests sent after the engines started."""
    outcomes = [o for o in (_is_error(slo, call) for call in run.counted) if o is not None]
    return sum(outcomes) / len(outcomes)


def stalled_share(run: EngineRun, slo: str) -> float:
    """The share of ``slo``'s events that were not forced to fail it but that the client saw
    take longer than the latency threshold (``run.stalled``; 0 unless the machine starved a
    service): the server may have recorded those slow as well."""
    events = sum(_is_error(slo, call) is not None for call in run.counted)
    stalled = sum(_is_error(slo, call) is False for call in run.stalled)
    return stalled / events if slo == "latency" else 0.0


def _rules(run: EngineRun) -> list[dict[str, Any]]:
    return [
        rule
        for path in run.rule_files
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def _delivered(run: EngineRun, engine: str) -> list[tuple[str, dict[str, Any], float]]:
    """(receiver, alert, arrival time) of every alert the engine's Alertmanager notified."""
    return [
        (n.path.rsplit("/", 1)[1], alert, n.at)
        for n in run.webhooks.received(f"/{engine}/")
        for alert in n.alerts
    ]


def _tier(alert: dict[str, Any]) -> tuple[str, str, str]:
    labels = alert["labels"]
    return labels[c.SLO_LABEL_SERVICE], labels[c.SLO_LABEL_SLO], labels[c.ALERT_LABEL_TIER]


def _wait_delivered(run: EngineRun, engine: str) -> list[tuple[str, dict[str, Any], float]]:
    poll(
        f"{engine}: every expected alert delivered",
        lambda: {_tier(a) for _, a, _ in _delivered(run, engine)} >= EXPECTED_TIERS,
        60,
        run.servers,
    )
    return _delivered(run, engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_idle_traffic_leaves_the_whole_budget(engines: EngineRun, engine: str) -> None:
    """While an SLO sees no request at all (every ratio 0/0: NaN on Prometheus, no sample on
    VictoriaMetrics), its budget remaining is recorded as exactly 1."""
    assert engines.idle_budget[engine] == {IDLE_SLO: 1.0}


@pytest.mark.parametrize("engine", ENGINES)
def test_good_traffic_records_zero_error_ratios(engines: EngineRun, engine: str) -> None:
    """With successful, fast requests only (no error series has moved), every such SLO's 5m
    error ratio is recorded as 0, and no alert of any SLO is pending or firing."""
    assert engines.good_ratio[engine] == dict.fromkeys(GOOD_SLOS, 0.0)
    assert engines.alerts_before_errors[engine] == []


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("service", "slo"), [*GOOD_SLOS, IDLE_SLO])
def test_recorded_ratio_equals_the_injected_ratio(
    engines: EngineRun, engine: str, service: str, slo: str
) -> None:
    """The 5m error ratio each engine recorded equals errors / events among the requests it
    was shown (good phase and error phase) within RELATIVE_TOLERANCE, and the 5m burn rate is
    that ratio over the budget.  A latency event the client saw answered later than the
    threshold without being forced slow (a starved machine; none on a quiet one) may count
    either way: the ratio then lies between the forced share and that plus the stalled share."""
    server = engines.servers[engine]
    sel = f'{c.SLO_LABEL_SERVICE}="{service}",{c.SLO_LABEL_SLO}="{slo}"'
    measured = value(server, f"{c.error_ratio_rule('5m')}{{{sel}}}")
    expected = injected_ratio(engines, slo)
    stalled = stalled_share(engines, slo)
    print(
        f"{engine} {service}/{slo}: 5m error ratio {measured}, injected {expected:.6f}, "
        f"stalled share {stalled:.6f}"
    )
    assert measured is not None
    if stalled == 0:
        assert measured == pytest.approx(expected, rel=RELATIVE_TOLERANCE)
    else:
        low, high = expected, expected + stalled
        tolerance = RELATIVE_TOLERANCE * high
        assert low - tolerance <= measured <= high + tolerance, (measured, low, high)
    budget = value(server, f"{c.RULE_ERROR_BUDGET}{{{sel}}}")
    burn = value(server, f'{c.RULE_BURN_RATE}{{{sel},{c.SLO_LABEL_WINDOW}="5m"}}')
    assert budget
    assert burn == pytest.approx(measured / budget, rel=1e-6)


def _from_raw_counters(engines: EngineRun) -> list[str]:
    """The alert windows whose error ratio every SLO computes from the raw counters (no
    ``…_over_time`` of recorded 5m rates, whose values are engine-specific while young)."""
    exprs: dict[str, list[str]] = {}
    for rule in _rules(engines):
        for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
            if rule.get("record") == c.error_ratio_rule(window):
                exprs.setdefault(window, []).append(rule["expr"])
    return [w for w, found in exprs.items() if not any("_over_time(" in e for e in found)]


def test_both_engines_record_the_same_window_ratios(engines: EngineRun) -> None:
    """The error ratio and the burn rate of every alert window computed from the raw counters
    (5m only, now that 30m+ sum the recorded 5m rates) and the constants (objective, budget,
    period) hold the same series with the same values on both engines.  Figures summed from
    the recorded 5m *rates* (the period ratio, budget remaining, and any window computed that
    way) are left out: while a series is younger than 5 minutes the engines' ``rate()`` differ
    (Prometheus extrapolates over the window, VictoriaMetrics divides by the time covered), so
    their sums over time differ too; see docs/slo-rules.md."""
    windows = _from_raw_counters(engines)
    assert "5m" in windows
    names = [c.error_ratio_rule(w) for w in windows]
    names += [c.RULE_OBJECTIVE, c.RULE_ERROR_BUDGET, c.RULE_PERIOD_SECONDS]
    selectors = [f'{name}{{{c.SLO_LABEL_SERVICE}!=""}}' for name in names]
    selectors.append(f'{c.RULE_BURN_RATE}{{{c.SLO_LABEL_WINDOW}=~"{"|".join(windows)}"}}')
    for selector in selectors:
        seen = {}
        for engine, server in engines.servers.items():
            result = server.query(selector)
            seen[engine] = {
                tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in result
            }
        prometheus, victoria = seen["prometheus"], seen["victoriametrics"]
        assert sorted(prometheus) == sorted(victoria), selector
        assert len(prometheus) >= 3, selector  # one per SLO at least
        for series, number in prometheus.items():
            assert victoria[series] == pytest.approx(number, rel=1e-6), (selector, series)


@pytest.mark.parametrize("engine", ENGINES)
def test_alerts_reach_the_right_receiver_with_obskits_labels(
    engines: EngineRun, engine: str
) -> None:
    """Through the engine's Alertmanager, every expected tier arrives — pages at the page
    webhook, tickets at the ticket webhook, nothing unrouted — each with exactly the labels of
    its generated rule plus ``alertname``, the spec's runbook URL and a rendered description."""
    delivered = _wait_delivered(engines, engine)
    rules = {_tier(r): r for r in _rules(engines) if "alert" in r}
    assert {_tier(alert) for _, alert, _ in delivered} == EXPECTED_TIERS
    for receiver, alert, _ in delivered:
        rule = rules[_tier(alert)]
        assert receiver == alert["labels"][c.ALERT_LABEL_SEVERITY], alert["labels"]
        assert alert["labels"] == {**rule["labels"], "alertname": rule["alert"]}
        assert alert["annotations"].get("runbook_url") == rule["annotations"].get("runbook_url")
        assert alert["annotations"]["summary"] == rule["annotations"]["summary"]
        assert "{{" not in alert["annotations"]["description"]
        assert re.search(r"consumed \d", alert["annotations"]["description"]), alert
    runbooks = {a["annotations"].get("runbook_url") for _, a, _ in delivered}
    assert "https://runbooks.example.com/checkout/availability" in runbooks


@pytest.mark.parametrize("engine", ENGINES)
def test_nothing_arrives_before_the_errors_start(engines: EngineRun, engine: str) -> None:
    """No notification reached any webhook of the engine during the idle and good phases: the
    first arrives after the first failing request was sent, and every delivered alert became
    active after that."""
    delivered = _wait_delivered(engines, engine)
    assert min(at for _, _, at in delivered) > engines.errors_at
    for _, alert, _ in delivered:
        starts = datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00")).timestamp()
        assert starts > engines.errors_at - 1.0, alert  # 1 s: the engines' own clock rounding


def test_both_engines_deliver_the_same_alerts(engines: EngineRun) -> None:
    """Prometheus and vmalert deliver the same alerts: same label sets, same summaries and
    runbooks (vmalert runs with ``-disableAlertgroupLabel``, so no extra label)."""
    seen = {}
    for engine in ENGINES:
        seen[engine] = {
            (tuple(sorted(a["labels"].items())), a["annotations"]["summary"])
            for _, a, _ in _wait_delivered(engines, engine)
        }
    assert seen["prometheus"] == seen["victoriametrics"]


def _expressions(engines: EngineRun) -> list[str]:
    """Every expression the build generated: rules, and the queries inside descriptions."""
    exprs = []
    for rule in _rules(engines):
        exprs.append(rule["expr"])
        exprs += re.findall(r"query `([^`]+)`", rule.get("annotations", {}).get("description", ""))
    return exprs


@pytest.mark.parametrize("engine", ENGINES)
def test_every_generated_expression_runs_as_a_query(engines: EngineRun, engine: str) -> None:
    """Each generated expression (every recording and alert rule, and every query inside an
    alert description) runs as an instant query on the engine's query API without an error —
    a stronger check than ``vmalert -dryRun``, which accepts unknown functions."""
    server = engines.servers[engine]
    exprs = _expressions(engines)
    assert len(exprs) > 60
    failed = {}
    for expr in exprs:
        try:
            server.query(expr)
        except Exception as exc:  # every failure is collected and reported
            failed[expr] = repr(exc)
    assert not failed, failed


def test_vmalert_dry_run_accepts_the_rule_files(
    engines: EngineRun, engine_tools: dict[str, str]
) -> None:
    """``vmalert -dryRun`` (the check a VictoriaMetrics user runs in CI) accepts the generated
    rule files, templates included."""
    result = subprocess.run(
        [engine_tools["vmalert"], "-dryRun", *[f"-rule={p}" for p in engines.rule_files]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
