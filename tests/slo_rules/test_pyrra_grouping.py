"""Pyrra ``grouping``: one SLO evaluated separately per label value, in `promtool test rules`.

The specs are in the shape of Pyrra's own grouping example
(``examples/kubernetes/manifests/slos/slo-prometheus-operator-reconcile-errors.yaml``:
``indicator.ratio.grouping: [controller]``) and of its CRD for the other indicators.  Checked:

* per group, obskit's recorded error ratios equal Pyrra's own per-group burn-rate expressions
  (``sum by (grouping) (…) / sum by (grouping) (…)``, from Pyrra's ``slo/rules.go``) — the 5m
  ratio exactly, the longer windows (computed from the recorded 5m rates) within Pyrra's ratios
  of the last 5 minutes, as in ``test_pyrra_equivalence.py``;
* a group with traffic but no error series yet records 0 (Pyrra records nothing for it);
* the alerts fire for the group that burns, carry its label, and fire for no other group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from obskit import conventions as c
from obskit.slo import DashboardOptions, build, load
from obskit.slo._rules import RECORDED_WINDOWS

from ._promtool import assert_unit_passes

SPECS = """\
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  labels:
    prometheus: k8s
    role: alert-rules
  name: reconcile-errors
  namespace: operator
spec:
  description: ""
  indicator:
    ratio:
      errors:
        metric: reconcile_errors_total{job="operator"}
      grouping:
      - controller
      total:
        metric: reconcile_operations_total{job="operator"}
  target: "99"
  window: 4w
---
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: http-latency
  namespace: operator
spec:
  indicator:
    latency:
      grouping:
      - handler
      success:
        metric: http_request_duration_seconds_bucket{job="operator",le="0.5"}
      total:
        metric: http_request_duration_seconds_count{job="operator"}
  target: "95"
  window: 2w
---
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: up
  namespace: operator
spec:
  indicator:
    bool_gauge:
      grouping:
      - instance
      metric: up{job="operator"}
  target: "99.9"
  window: 28d
"""

# Pyrra's per-group burn-rate expressions (its slo/rules.go templates with `sum by (grouping)`).
PYRRA = {
    "reconcile-errors": (
        "controller",
        'sum by (controller) (rate(reconcile_errors_total{{job="operator"}}[{w}])) '
        '/ sum by (controller) (rate(reconcile_operations_total{{job="operator"}}[{w}]))',
    ),
    "http-latency": (
        "handler",
        '(sum by (handler) (rate(http_request_duration_seconds_count{{job="operator"}}[{w}])) '
        "- sum by (handler) "
        '(rate(http_request_duration_seconds_bucket{{job="operator",le="0.5"}}[{w}]))) '
        '/ sum by (handler) (rate(http_request_duration_seconds_count{{job="operator"}}[{w}]))',
    ),
    "up": (
        "instance",
        '(sum by (instance) (count_over_time(up{{job="operator"}}[{w}])) '
        '- sum by (instance) (sum_over_time(up{{job="operator"}}[{w}]))) '
        '/ sum by (instance) (count_over_time(up{{job="operator"}}[{w}]))',
    ),
}
#: Groups Pyrra records a ratio for, per SLO (obskit records these and any zero-error group).
GROUPS = {
    "reconcile-errors": ("alertmanager", "prometheus"),
    "http-latency": ("/api", "/metrics"),
    "up": ("a:9090", "b:9090"),
}
WINDOWS = ("5m", "30m", "1h", "6h")
EVAL_AT = "7h"


def _steady_series() -> list[dict[str, str]]:
    """Per group, different steady error ratios (so a mixed-up group would show)."""
    flaky = "1+0x26 0+0x2 1+0x29"  # 27 ones, 3 zeros, 30 ones: 5 % bad per hour
    return [
        # alertmanager 5 % errors, prometheus 10 %, thanos no error series at all.
        {"series": 'reconcile_operations_total{job="operator",controller="alertmanager"}',
         "values": "0+60x480"},
        {"series": 'reconcile_errors_total{job="operator",controller="alertmanager"}',
         "values": "0+3x480"},
        {"series": 'reconcile_operations_total{job="operator",controller="prometheus"}',
         "values": "0+60x480"},
        {"series": 'reconcile_errors_total{job="operator",controller="prometheus"}',
         "values": "0+6x480"},
        {"series": 'reconcile_operations_total{job="operator",controller="thanos"}',
         "values": "0+30x480"},
        # /api: 54 of 60 under 0.5 s (10 % slow); /metrics: 57 of 60 (5 %).
        {"series": 'http_request_duration_seconds_bucket{job="operator",handler="/api",le="0.5"}',
         "values": "0+54x480"},
        {"series": 'http_request_duration_seconds_count{job="operator",handler="/api"}',
         "values": "0+60x480"},
        {"series": 'http_request_duration_seconds_bucket{job="operator",handler="/metrics",'
         'le="0.5"}', "values": "0+57x480"},
        {"series": 'http_request_duration_seconds_count{job="operator",handler="/metrics"}',
         "values": "0+60x480"},
        {"series": 'up{job="operator",instance="a:9090"}', "values": " ".join([flaky] * 8)},
        {"series": 'up{job="operator",instance="b:9090"}', "values": "1+0x480"},
    ]  # fmt: skip


def _close(left: str, right: str, on: str, groups: int, window: str) -> dict[str, Any]:
    """Passes only if, in each of ``groups`` groups (matched ``on`` the grouping label), the
    recorded ratio equals Pyrra's to 1e-9 — or, for a window computed from the recorded 5m
    rates, lies between Pyrra's lowest and highest over the last 5 minutes (docs/slo-rules.md)."""
    if window not in RECORDED_WINDOWS:
        expr = f"count(abs(({left}) - on({on}) ({right})) < 1e-9)"
    else:
        slack = 2 / (c.window_seconds(window) / 60) + 0.001
        high = f"max_over_time(({right})[5m:1m]) * {1 + slack} + 1e-9"
        low = f"min_over_time(({right})[5m:1m]) * {1 - slack} - 1e-9"
        expr = f"count((({left}) <= on({on}) ({high})) and on({on}) (({left}) >= on({on}) ({low})))"
    return {"expr": expr, "eval_time": EVAL_AT, "exp_samples": [{"labels": "{}", "value": groups}]}


def _sel(slo: str, **extra: str) -> str:
    pairs = {c.SLO_LABEL_SERVICE: "operator", c.SLO_LABEL_SLO: slo, **extra}
    return "{" + ",".join(f'{k}="{v}"' for k, v in pairs.items()) + "}"


def _promtool(promtool: str, tmp_path: Path, tests: list[dict[str, Any]]) -> None:
    (tmp_path / "specs.yaml").write_text(SPECS, encoding="utf-8")
    services = load([tmp_path / "specs.yaml"])
    assert [s.name for s in services] == ["operator"]
    files = build(services, dashboards=DashboardOptions(enabled=False))
    (tmp_path / "rules.yaml").write_text(files["rules/operator.yaml"], encoding="utf-8")
    unit = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}
    assert_unit_passes(promtool, tmp_path, unit)


def test_grouped_ratios_equal_pyrras_per_group(promtool: str, tmp_path: Path) -> None:
    """Ratio, latency and bool_gauge with grouping: in every group and window, obskit's
    recorded ratio equals Pyrra's per-group expression; a group with traffic and no error
    series records 0; each SLO records one series per group, never a group-less one."""
    checks: list[dict[str, Any]] = []
    for slo, (label, template) in PYRRA.items():
        for window in WINDOWS:
            recorded = c.error_ratio_rule(window) + _sel(slo)
            pyrra = template.format(w=window)
            checks.append(_close(recorded, pyrra, label, len(GROUPS[slo]), window))
    # The groups' own truth, so a ratio computed over the wrong group would fail too.
    truth = [
        ("reconcile-errors", "controller", "alertmanager", 0.05),
        ("reconcile-errors", "controller", "prometheus", 0.10),
        ("reconcile-errors", "controller", "thanos", 0.0),
        ("http-latency", "handler", "/api", 0.10),
        ("http-latency", "handler", "/metrics", 0.05),
        ("up", "instance", "b:9090", 0.0),
    ]
    for slo, label, group, ratio in truth:
        checks.append(
            {
                "expr": f"abs({c.error_ratio_rule('1h')}{_sel(slo, **{label: group})} - {ratio})"
                " < bool 1e-9",
                "eval_time": EVAL_AT,
                "exp_samples": [{"labels": _labels(slo, **{label: group}), "value": 1}],
            }
        )
    counts = {"reconcile-errors": 3, "http-latency": 2, "up": 2}
    for slo, n in counts.items():
        for rule in (c.RULE_SLI_TOTAL_RATE, c.RULE_PERIOD_BURN_RATE, c.RULE_ERROR_BUDGET_REMAINING):
            checks.append(
                {
                    "expr": f"count({rule}{_sel(slo)})",
                    "eval_time": EVAL_AT,
                    "exp_samples": [{"labels": "{}", "value": n}],
                }
            )
    tests = [{"interval": "1m", "input_series": _steady_series(), "promql_expr_test": checks}]
    _promtool(promtool, tmp_path, tests)
    assert len(checks) == len(PYRRA) * len(WINDOWS) + len(truth) + 3 * len(counts)


def _labels(slo: str, **extra: str) -> str:
    pairs = {
        c.SLO_LABEL_SERVICE: "operator",
        c.SLO_LABEL_SLO: slo,
        c.SLO_LABEL_ID: f"operator-{slo}",
        "slo": slo,
        **extra,
    }
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(pairs.items())) + "}"


def test_alerts_fire_for_the_burning_group_only(promtool: str, tmp_path: Path) -> None:
    """Controller `prometheus` fails every reconcile from 2h on, `alertmanager` keeps 0.5 %
    errors (half its budget) and `thanos` none: no alert before the errors; 30 minutes in,
    every firing alert of the SLO is `prometheus`'s, and its page-1h alert carries the group
    label next to obskit's and Pyrra's."""
    series = [
        {"series": 'reconcile_operations_total{job="operator",controller="prometheus"}',
         "values": "0+60x180"},
        {"series": 'reconcile_errors_total{job="operator",controller="prometheus"}',
         "values": "0+0x120 60+60x60"},
        {"series": 'reconcile_operations_total{job="operator",controller="alertmanager"}',
         "values": "0+200x180"},
        {"series": 'reconcile_errors_total{job="operator",controller="alertmanager"}',
         "values": "0+1x180"},
        {"series": 'reconcile_operations_total{job="operator",controller="thanos"}',
         "values": "0+60x180"},
    ]  # fmt: skip
    firing = f'ALERTS{{alertstate="firing",{c.SLO_LABEL_SLO}="reconcile-errors"}}'
    page = (
        f'ALERTS{{alertstate="firing",{c.SLO_LABEL_SLO}="reconcile-errors",'
        f'{c.ALERT_LABEL_TIER}="page-1h"}}'
    )
    page_labels = {
        "alertname": "ErrorBudgetBurn",
        "alertstate": "firing",
        "controller": "prometheus",
        c.ALERT_LABEL_LONG_WINDOW: "1h",
        c.SLO_LABEL_SERVICE: "operator",
        c.SLO_LABEL_SLO: "reconcile-errors",
        c.SLO_LABEL_ID: "operator-reconcile-errors",
        c.ALERT_LABEL_TIER: "page-1h",
        c.ALERT_LABEL_SEVERITY: "page",
        c.ALERT_LABEL_SHORT_WINDOW: "5m",
        "slo": "reconcile-errors",
    }
    checks = [
        {"expr": f"group by (controller) ({firing})", "eval_time": "1h59m", "exp_samples": []},
        {
            "expr": f"group by (controller) ({firing})",
            "eval_time": "2h30m",
            "exp_samples": [{"labels": '{controller="prometheus"}', "value": 1}],
        },
        {
            "expr": page,
            "eval_time": "2h30m",
            "exp_samples": [
                {
                    "labels": "ALERTS{"
                    + ", ".join(f'{k}="{v}"' for k, v in sorted(page_labels.items()))
                    + "}",
                    "value": 1,
                }
            ],
        },
    ]
    tests = [{"interval": "1m", "input_series": series, "promql_expr_test": checks}]
    _promtool(promtool, tmp_path, tests)
