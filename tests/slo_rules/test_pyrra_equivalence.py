"""Pyrra specs measure what Pyrra measures: on the same series, obskit's recorded error ratios
equal the burn-rate expressions Pyrra itself records for the same ``ServiceLevelObjective``
(written here from Pyrra's query templates in its ``slo/rules.go``), in `promtool test rules`.

Native histograms (``latencyNative``) are compiled and syntax-checked by the golden tests only:
Debian's promtool 2.42 cannot load native-histogram series in a unit test.
"""

from __future__ import annotations

from pathlib import Path

from obskit import conventions as c
from obskit.slo import DashboardOptions, build, load
from obskit.slo._rules import RECORDED_WINDOWS

from ._promtool import assert_unit_passes

SPECS = """\
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: api-errors
  namespace: api
spec:
  target: "99"
  window: 4w
  indicator:
    ratio:
      errors:
        metric: http_requests_total{job="api",code=~"5.."}
      total:
        metric: http_requests_total{job="api"}
---
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: api-latency
  namespace: api
spec:
  target: "95"
  window: 2w
  indicator:
    latency:
      success:
        metric: http_request_duration_seconds_bucket{job="api",le="0.5"}
      total:
        metric: http_request_duration_seconds_count{job="api"}
---
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: api-up
  namespace: api
spec:
  target: "99.9"
  window: 28d
  indicator:
    bool_gauge:
      metric: up{job="api"}
"""

# Pyrra's burn-rate expressions for the three objectives (no grouping), per window.
PYRRA = {
    "api-errors": 'sum(rate(http_requests_total{{job="api",code=~"5.."}}[{w}])) '
    '/ sum(rate(http_requests_total{{job="api"}}[{w}]))',
    "api-latency": '(sum(rate(http_request_duration_seconds_count{{job="api"}}[{w}])) '
    '- sum(rate(http_request_duration_seconds_bucket{{job="api",le="0.5"}}[{w}]))) '
    '/ sum(rate(http_request_duration_seconds_count{{job="api"}}[{w}]))',
    "api-up": '(sum(count_over_time(up{{job="api"}}[{w}])) '
    '- sum(sum_over_time(up{{job="api"}}[{w}]))) '
    '/ sum(count_over_time(up{{job="api"}}[{w}]))',
}
# Independently known ratios of the injected traffic (after the first hour).
TRUE_RATIO = {"api-errors": 3 / 60, "api-latency": 6 / 60}
WINDOWS = ("5m", "30m", "1h", "6h")
EVAL_AT = "7h"


def _series() -> list[dict[str, str]]:
    # 60 requests a minute: 3 fail; 54 are under 0.5 s.  `up` is 0 for 3 minutes of every 60.
    hour_of_up = "1+0x26 0+0x2 1+0x29"  # 27 ones, 3 zeros, 30 ones = 60 samples
    return [
        {"series": 'http_requests_total{job="api",code="200"}', "values": "0+57x480"},
        {"series": 'http_requests_total{job="api",code="500"}', "values": "0+3x480"},
        {
            "series": 'http_request_duration_seconds_bucket{job="api",le="0.5"}',
            "values": "0+54x480",
        },
        {"series": 'http_request_duration_seconds_count{job="api"}', "values": "0+60x480"},
        {"series": 'up{job="api"}', "values": " ".join([hour_of_up] * 8)},
    ]


def _close(left: str, right: str, slo: str, window: str = "5m") -> dict[str, object]:
    """A promtool check that passes only if both one-series expressions agree to 1e-9 — or,
    for a window computed from the recorded 5-minute rates, if the left one lies between the
    lowest and highest of the right one over the last 5 minutes (docs/slo-rules.md: the mean
    of the raw windows ending 0-4 minutes earlier, give or take one extra sample)."""
    if window not in RECORDED_WINDOWS:
        return {
            "expr": f"count(abs(({left}) - on() ({right})) < 1e-9)",
            "eval_time": EVAL_AT,
            "exp_samples": [{"labels": "{}", "value": 1}],
            "_slo": slo,
        }
    slack = 2 / (c.window_seconds(window) / 60) + 0.001
    high = f"max_over_time(({right})[5m:1m]) * {1 + slack} + 1e-9"
    low = f"min_over_time(({right})[5m:1m]) * {1 - slack} - 1e-9"
    return {
        "expr": f"count((({left}) <= on() ({high})) and on() (({left}) >= on() ({low})))",
        "eval_time": EVAL_AT,
        "exp_samples": [{"labels": "{}", "value": 1}],
        "_slo": slo,
    }


def test_pyrra_objectives_record_pyrras_own_ratios(promtool: str, tmp_path: Path) -> None:
    """Ratio, latency and bool_gauge: every window's recorded ratio equals Pyrra's (5m exactly;
    longer windows, computed from the recorded 5-minute rates, within Pyrra's ratios of the
    last 5 minutes), and the ratio and latency ones equal the injected truth (5 % and 10 %)."""
    (tmp_path / "specs.yaml").write_text(SPECS, encoding="utf-8")
    services = load([tmp_path / "specs.yaml"])
    assert [s.name for s in services] == ["api"]
    files = build(services, dashboards=DashboardOptions(enabled=False))
    (tmp_path / "rules.yaml").write_text(files["rules/api.yaml"], encoding="utf-8")
    tests = []
    for slo, template in PYRRA.items():
        selector = f'{{{c.SLO_LABEL_SERVICE}="api",{c.SLO_LABEL_SLO}="{slo}"}}'
        for window in WINDOWS:
            recorded = c.error_ratio_rule(window) + selector
            tests.append(_close(recorded, template.format(w=window), slo, window))
        if slo in TRUE_RATIO:
            tests.append(_close(c.error_ratio_rule("1h") + selector, str(TRUE_RATIO[slo]), slo))
    for test in tests:
        test.pop("_slo")
    unit = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": _series(), "promql_expr_test": tests}],
    }
    assert_unit_passes(promtool, tmp_path, unit)
    assert len(tests) == len(PYRRA) * len(WINDOWS) + len(TRUE_RATIO)
