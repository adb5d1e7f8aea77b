"""Rule generation from model objects: structure, labels, tiers, ordering, and promtool check."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from obskit import conventions as c
from obskit.slo import RuleGroup, SpecErrors, rule_groups
from obskit.slo._render import render_rule_file
from obskit.slo._rules import RECORDED_WINDOWS, SLI_WINDOWS

from ._models import SLI, events_sli, http_availability_sli, raw_sli, service, slo

_RULE_NAME_RE = re.compile(r"obskit_slo:[a-z_]+:[a-z_0-9]+")


def _mixed_service() -> tuple[list[RuleGroup], str]:
    svc = service(
        "checkout",
        slo("checkout", "availability", http_availability_sli("checkout"), labels={"tier": "1"},
            min_events=100, runbook_url="https://runbooks.example/checkout"),
        slo("checkout", "raw", raw_sli("checkout"), objective=99.5, period_days=28,
            page_for="0m", ticket_for=""),
        slo("checkout", "no-page", events_sli("checkout"), period_days=7, page=False),
        slo("checkout", "no-ticket", events_sli("checkout"), ticket=False),
        labels={"team": "payments"},
    )  # fmt: skip
    groups = rule_groups(svc)
    return groups, render_rule_file("checkout", groups, ["slo/checkout.yaml"], "prometheus")


def _by_group(groups: list[RuleGroup]) -> dict[str, RuleGroup]:
    return {g.name: g for g in groups}


def test_promtool_accepts_generated_rules(promtool: str, tmp_path: Path) -> None:
    """`promtool check rules` accepts the rule file of a service mixing every SLI shape."""
    _, text = _mixed_service()
    path = tmp_path / "checkout.yaml"
    path.write_text(text)
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rendered_yaml_loads_back_to_the_groups() -> None:
    """The hand-written emitter's output loads with PyYAML into exactly the generated groups."""
    groups, text = _mixed_service()
    doc = yaml.safe_load(text)
    assert [g["name"] for g in doc["groups"]] == [g.name for g in groups]
    for loaded, group in zip(doc["groups"], groups, strict=True):
        assert set(loaded) == {"name", "rules"}
        for raw, rule in zip(loaded["rules"], group.rules, strict=True):
            assert raw["expr"] == rule.expr
            assert raw.get("record") == rule.record
            assert raw.get("alert") == rule.alert
            assert raw.get("labels", {}) == dict(rule.labels)
            assert raw.get("annotations", {}) == dict(rule.annotations)
            assert raw.get("for", "") == rule.for_
            # Plain rule groups only: no keep_firing_for / query_offset / interval extensions.
            assert set(raw) <= {"record", "alert", "expr", "for", "labels", "annotations"}


def test_every_recorded_series_carries_the_slo_labels() -> None:
    """Each recording rule carries service, SLO, id, the service's and the SLO's labels."""
    groups, _ = _mixed_service()
    for group in groups:
        for rule in group.rules:
            labels = dict(rule.labels)
            assert labels[c.SLO_LABEL_SERVICE] == "checkout"
            assert labels[c.SLO_LABEL_ID] == f"checkout-{labels[c.SLO_LABEL_SLO]}"
            assert labels["team"] == "payments"
    availability = _by_group(groups)["obskit-checkout-availability"]
    assert all(dict(r.labels)["tier"] == "1" for r in availability.rules)


def test_recordings_cover_every_window_and_the_metadata() -> None:
    """An event SLO records rates, a ratio and a burn rate per window, and the period figures."""
    groups, _ = _mixed_service()
    rules = _by_group(groups)["obskit-checkout-availability"].rules
    records = [r.record for r in rules if r.record]
    for window in SLI_WINDOWS:
        assert records.count(c.error_ratio_rule(window)) == 1
    # One burn-rate rule yields a series per window, labelled with the window.
    (burn,) = [r for r in rules if r.record == c.RULE_BURN_RATE]
    burn_windows = re.findall(rf'"{c.SLO_LABEL_WINDOW}", "(\w+)"', burn.expr)
    assert burn_windows == list(SLI_WINDOWS)
    for window in SLI_WINDOWS:
        assert f"{c.error_ratio_rule(window)}{{" in burn.expr
    for name in (c.RULE_SLI_ERRORS_RATE, c.RULE_SLI_TOTAL_RATE, c.RULE_OBJECTIVE,
                 c.RULE_ERROR_BUDGET, c.RULE_PERIOD_SECONDS, c.RULE_PERIOD_ERROR_RATIO,
                 c.RULE_PERIOD_BURN_RATE, c.RULE_ERROR_BUDGET_REMAINING):  # fmt: skip
        assert records.count(name) == 1, name
    exprs = {r.record: r.expr for r in rules if r.record}
    # Windows of 2h and longer from the recorded 5m rates; 5m, 30m and 1h from raw counters.
    for window in SLI_WINDOWS[1:]:
        expr = exprs[c.error_ratio_rule(window)]
        if window in RECORDED_WINDOWS:
            assert c.HTTP_DURATION_COUNT not in expr, window
            assert f"sum_over_time({c.RULE_SLI_ERRORS_RATE}{{" in expr
            assert f"sum_over_time({c.RULE_SLI_TOTAL_RATE}{{" in expr
            assert f"[{window}])" in expr
        else:
            assert f"{c.HTTP_DURATION_COUNT}{{" in expr, window
            assert f"[{window}]))" in expr, window
    assert exprs[c.RULE_OBJECTIVE] == "vector(0.999)"
    assert exprs[c.RULE_ERROR_BUDGET] == "vector(0.001)"
    assert exprs[c.RULE_PERIOD_SECONDS] == "vector(2592000)"
    # Traffic-weighted period ratio over the recorded 5m rates, never a raw series over 30d.
    period = exprs[c.RULE_PERIOD_ERROR_RATIO]
    assert f"sum_over_time({c.RULE_SLI_ERRORS_RATE}{{" in period
    assert f"sum_over_time({c.RULE_SLI_TOTAL_RATE}{{" in period
    assert c.HTTP_DURATION_COUNT not in period


def test_raw_ratio_slo_averages_its_recorded_5m_ratio() -> None:
    """A raw-ratio SLO has no event rates; its period ratio averages the recorded 5m ratio."""
    groups, _ = _mixed_service()
    rules = _by_group(groups)["obskit-checkout-raw"].rules
    records = {r.record: r.expr for r in rules if r.record}
    assert c.RULE_SLI_ERRORS_RATE not in records
    assert records[c.RULE_PERIOD_ERROR_RATIO].startswith(
        f"avg_over_time({c.error_ratio_rule('5m')}{{"
    )
    assert "[28d]" in records[c.RULE_PERIOD_ERROR_RATIO]


def test_each_rule_reads_only_rules_recorded_above_it() -> None:
    """Within a group every obskit recording a rule reads is recorded earlier in that group
    (at the default limit each SLO is one group, so no read crosses groups)."""
    groups, _ = _mixed_service()
    for group in groups:
        seen: set[str] = set()
        for rule in group.rules:
            for name in _RULE_NAME_RE.findall(rule.expr):
                assert name in seen, f"{group.name}: {rule.record or rule.alert} reads {name} early"
            if rule.record:
                seen.add(rule.record)


@pytest.mark.parametrize(
    ("period_days", "rates"),
    [(30, ["14.4", "6", "3", "1"]), (28, ["13.44", "5.6", "2.8", "0.933333333333"])],
)
def test_four_alert_tiers_with_rescaled_burn_rates(period_days: int, rates: list[str]) -> None:
    """Four alerts, one per tier, thresholds rescaled to the period, labels name the windows."""
    svc = service("pay", slo("pay", "api", events_sli("pay"), period_days=period_days))
    alerts = [r for r in rule_groups(svc)[0].rules if r.alert]
    assert [r.alert for r in alerts] == ["pay_api_burn"] * 4
    pairs = [(dict(r.labels)[c.ALERT_LABEL_LONG_WINDOW], dict(r.labels)[c.ALERT_LABEL_SHORT_WINDOW])
             for r in alerts]  # fmt: skip
    assert pairs == [("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")]
    assert [dict(r.labels)[c.ALERT_LABEL_SEVERITY] for r in alerts] == ["page"] * 2 + ["ticket"] * 2
    assert [dict(r.labels)[c.ALERT_LABEL_TIER] for r in alerts] == [
        "page-1h", "page-6h", "ticket-1d", "ticket-3d"]  # fmt: skip
    for rule, rate in zip(alerts, rates, strict=True):
        assert f"/ 0.001 > {rate}\n" in rule.expr
    assert [r.for_ for r in alerts] == ["2m", "2m", "15m", "15m"]


def test_page_and_ticket_switches_and_zero_for() -> None:
    """`page`/`ticket` off drop their tiers; a zero or empty `for:` is omitted."""
    groups, text = _mixed_service()
    by = _by_group(groups)
    sev = {name: [dict(r.labels)["severity"] for r in g.rules if r.alert] for name, g in by.items()}
    assert sev["obskit-checkout-no-page"] == ["ticket", "ticket"]
    assert sev["obskit-checkout-no-ticket"] == ["page", "page"]
    assert all(r.for_ == "" for r in by["obskit-checkout-raw"].rules)
    raw_alerts = [r for r in yaml.safe_load(text)["groups"][1]["rules"] if "alert" in r]
    assert raw_alerts
    assert all("for" not in r for r in raw_alerts)


def test_min_events_guard_reads_the_long_window() -> None:
    """With `min_events` each alert also requires that many requests in its long window."""
    groups, _ = _mixed_service()
    alerts = [r for r in _by_group(groups)["obskit-checkout-availability"].rules if r.alert]
    sel = '{obskit_service="checkout",obskit_slo="availability"}'
    total = c.RULE_SLI_TOTAL_RATE
    assert f"\nand on ()\n(avg_over_time({total}{sel}[1h]) * 3600 >= 100)" in alerts[0].expr
    assert f"(avg_over_time({total}{sel}[3d]) * 259200 >= 100)" in alerts[3].expr
    unguarded = [r for r in _by_group(groups)["obskit-checkout-no-ticket"].rules if r.alert]
    assert ">=" not in unguarded[0].expr


def test_alert_labels_and_annotations() -> None:
    """Alerting labels and annotations apply; a spec's `severity` wins (Sloth routes keep
    working)."""
    svc = service(
        "pay",
        slo("pay", "api", events_sli("pay"), alert_name="PayBurn", labels={"tier": "1"},
            runbook_url="https://rb.example/pay", labels_={"team": "core"},
            page_labels={"severity": "critical"}, ticket_annotations={"summary": "Ticket!"}),
    )  # fmt: skip
    alerts = [r for r in rule_groups(svc)[0].rules if r.alert]
    page, ticket = dict(alerts[0].labels), dict(alerts[2].labels)
    assert alerts[0].alert == "PayBurn"
    assert page["severity"] == "critical"
    assert ticket["severity"] == "ticket"
    assert page["team"] == ticket["team"] == "core"
    assert page["tier"] == "1"
    assert page[c.SLO_LABEL_ID] == "pay-api"
    notes_page, notes_ticket = dict(alerts[0].annotations), dict(alerts[2].annotations)
    assert notes_page["runbook_url"] == "https://rb.example/pay"
    assert "1h and 5m" in notes_page["summary"]
    assert "burn rate {{ $value | humanize }} over the last 1h" in notes_page["description"]
    assert "humanizePercentage" in notes_page["description"]
    assert notes_ticket["summary"] == "Ticket!"


def test_generated_expression_that_does_not_parse_is_a_spec_error() -> None:
    """A query that breaks the generated PromQL fails the build naming the SLO's file and line."""
    broken = SLI(kind="ratio", error_query="sum(rate(x[{{.window}}])", total_query="vector(1)")
    svc = service("pay", slo("pay", "api", broken, line=7))
    with pytest.raises(SpecErrors) as info:
        rule_groups(svc)
    first = str(info.value.errors[0])
    assert first.startswith("slo/pay.yaml:7: sli: generated rule ")
    assert "does not parse" in first
