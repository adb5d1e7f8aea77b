"""Native ``group_by`` alerts in `promtool test rules`: the minimum-traffic guard counts each
group's own events, and each alert's annotations render its own group (the summary names it,
the description's budget share is queried for that group alone)."""

from __future__ import annotations

import re
from pathlib import Path

from obskit import conventions as c
from obskit.slo import DashboardOptions, build, load, rule_groups
from obskit.slo._rules import fmt_number

from ._promtool import assert_unit_passes

SPEC = """\
service: checkout
slos:
  - name: availability
    objective: 99.9
    sli:
      availability: {group_by: [http_route]}
    alerting:
      min_events: 500
"""
_SHARE_RE = re.compile(
    r"\{\{ with printf `[^`]*` \$labels\.http_route \| query \}\}.*?\{\{ end \}\}"
)


def _series(route: str, per_minute: float, status: str) -> dict[str, str]:
    labels = (
        f'job="checkout",{c.LABEL_ROUTE}="{route}",{c.LABEL_METHOD}="GET",'
        f'{c.LABEL_STATUS}="{status}"'
    )
    return {"series": f"{c.HTTP_DURATION_COUNT}{{{labels}}}", "values": f"0+{per_minute}x300"}


def test_guard_and_annotations_are_per_group(promtool: str, tmp_path: Path) -> None:
    """/busy (60 requests a minute) and /quiet (one every 10 minutes) both fail every request:
    at 4h every tier fires for /busy; /quiet's mean rate over each long window stays under the
    500-event guard (0.1/min x 3d = 432 at most) and never fires.  /busy's alerts carry its
    route, their summary names it, and their description shows /busy's own budget share (error
    ratio 1 / 0.001 x window / 30d) and burn rate (1000 → 1k), as Prometheus' template engine
    renders them."""
    (tmp_path / "checkout.yaml").write_text(SPEC, encoding="utf-8")
    [service] = load([tmp_path / "checkout.yaml"])
    rules = build([service], dashboards=DashboardOptions(enabled=False))["rules/checkout.yaml"]
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    slo = service.slos[0]
    alerts = [r for g in rule_groups(service) for r in g.rules if r.alert]
    assert len(alerts) == 4
    expected = []
    for rule in alerts:
        labels = dict(rule.labels)
        window = labels[c.ALERT_LABEL_LONG_WINDOW]
        share = 1 / slo.error_budget * c.window_seconds(window) / (30 * 86400)
        annotations = {}
        for key, text in rule.annotations:
            text = _SHARE_RE.sub(format(share * 100, ".4g") + "%", text)
            text = text.replace("{{ $value | humanize }}", "1k")
            annotations[key] = text.replace("{{ $labels.http_route }}", "/busy")
        assert "(http_route=/busy)" in annotations["summary"]
        assert "{{" not in "".join(annotations.values()), annotations
        expected.append(
            {"exp_labels": {**labels, c.LABEL_ROUTE: "/busy"}, "exp_annotations": annotations}
        )
    unit = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    _series("/busy", 60, "500"),
                    _series("/quiet", 0.1, "500"),
                ],
                "alert_rule_test": [
                    {"eval_time": "4h", "alertname": slo.alerting.name, "exp_alerts": expected}
                ],
                "promql_expr_test": [
                    {  # the guard is what keeps /quiet silent: its ratio burns as fast
                        "expr": f'{c.error_ratio_rule("1h")}{{{c.LABEL_ROUTE}="/quiet"}} '
                        f"/ {fmt_number(slo.error_budget)} > 14.4",
                        "eval_time": "4h",
                        "exp_samples": [
                            {
                                "labels": "{"
                                + ", ".join(
                                    f'{k}="{v}"'
                                    for k, v in sorted(
                                        {
                                            c.LABEL_ROUTE: "/quiet",
                                            c.SLO_LABEL_ID: "checkout-availability",
                                            c.SLO_LABEL_SERVICE: "checkout",
                                            c.SLO_LABEL_SLO: "availability",
                                        }.items()
                                    )
                                )
                                + "}",
                                "value": 1000,
                            }
                        ],
                    }
                ],
            }
        ],
    }
    assert_unit_passes(promtool, tmp_path, unit)
