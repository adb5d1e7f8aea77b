"""Sloth-shaped alerts fire and reset like Sloth's own generated rules on the same traffic.

The reference is what Sloth generates for the spec below, written by hand after Sloth's own
generated example ``examples/_gen/getting-started.yml``: SLI recordings
``slo:sli_error:ratio_rate<w>`` labelled ``sloth_id``/``sloth_service``/``sloth_slo``/
``sloth_window`` plus the spec's labels, and one page and one ticket alert joining their two
window pairs with ``or ignoring (sloth_window)`` (only the rules the alerts read are kept; the
metadata recordings do not change when an alert fires).  Both rule files run in one
``promtool test rules`` over one traffic history, and the ``ALERTS`` series of the two are
compared minute by minute per severity and per ``sloth_window`` (the reference's alerts are the
ones without ``obskit_slo_id``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from obskit import conventions as c
from obskit._cli import main
from obskit.slo import DashboardOptions, build, load

from ._scenarios import _GOT_RE, counter_notation, run, sections

SPEC = """\
version: "prometheus/v1"
service: "cart"
labels:
  owner: "shop-team"
  tier: "2"
slos:
  - name: "requests-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="cart",code=~"(5..|429)"}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="cart"}[{{.window}}]))
    alerting:
      name: CartHighErrorRate
      labels:
        category: "availability"
      annotations:
        summary: "High error rate on 'cart' responses"
      page_alert:
        labels:
          severity: pageteam
          routing_key: shop-team
      ticket_alert:
        labels:
          severity: "slack"
"""

_ID = (
    'sloth_id="cart-requests-availability", sloth_service="cart", sloth_slo="requests-availability"'
)
_BUDGET = "0.0009999999999999432"  # Sloth's own spelling of 1 - 0.999


def _sloth_reference() -> str:
    """Sloth's generated rules for SPEC (recordings the alerts read, and the two alerts)."""
    records = []
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
        records.append({
            "record": f"slo:sli_error:ratio_rate{window}",
            "expr": (
                f'(sum(rate(http_requests_total{{job="cart",code=~"(5..|429)"}}[{window}])))\n/\n'
                f'(sum(rate(http_requests_total{{job="cart"}}[{window}])))\n'
            ),
            "labels": {"owner": "shop-team", "sloth_id": "cart-requests-availability",
                       "sloth_service": "cart", "sloth_slo": "requests-availability",
                       "sloth_window": window, "tier": "2"},
        })  # fmt: skip

    def pair(short: str, long: str, burn: str) -> str:
        return (
            f"(\n    (slo:sli_error:ratio_rate{short}{{{_ID}}} > ({burn} * {_BUDGET}))\n"
            f"    and ignoring (sloth_window)\n"
            f"    (slo:sli_error:ratio_rate{long}{{{_ID}}} > ({burn} * {_BUDGET}))\n)"
        )

    title = (
        "({}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} "
        "SLO error budget burn rate is too fast."
    )
    summary = "High error rate on 'cart' responses"
    alerts = [
        {
            "alert": "CartHighErrorRate",
            "expr": pair("5m", "1h", "14.4") + "\nor ignoring (sloth_window)\n"
            + pair("30m", "6h", "6") + "\n",
            "labels": {"category": "availability", "routing_key": "shop-team",
                       "severity": "pageteam", "sloth_severity": "page"},
            "annotations": {"summary": summary, "title": title.format("page")},
        },
        {
            "alert": "CartHighErrorRate",
            "expr": pair("2h", "1d", "3") + "\nor ignoring (sloth_window)\n"
            + pair("6h", "3d", "1") + "\n",
            "labels": {"category": "availability", "severity": "slack",
                       "sloth_severity": "ticket"},
            "annotations": {"summary": summary, "title": title.format("ticket")},
        },
    ]  # fmt: skip
    groups = [
        {"name": "sloth-slo-sli-recordings-cart-requests-availability", "rules": records},
        {"name": "sloth-slo-alerts-cart-requests-availability", "rules": alerts},
    ]
    return yaml.safe_dump({"groups": groups}, sort_keys=False, width=1000)


#: Traffic (minutes, requests/min, errors/min): a total outage, then a slow 1 % burn.
SEGMENTS = [
    (360, 60.0, 0.0),
    (60, 60.0, 60.0),
    (400, 60.0, 0.0),
    (270, 60.0, 0.6),
    (380, 60.0, 0.0),
]
MINUTES = sum(m for m, _, _ in SEGMENTS)
OUTAGE_PLUS_30 = 390
SHORT = {"page": ("5m", "30m"), "ticket": ("2h", "6h")}


def _series() -> list[dict[str, str]]:
    ok, bad = [0.0], [0.0]
    for minutes, rpm, epm in SEGMENTS:
        for _ in range(minutes):
            ok.append(ok[-1] + rpm - epm)
            bad.append(bad[-1] + epm)
    return [
        {"series": 'http_requests_total{job="cart",code="200"}', "values": counter_notation(ok)},
        {"series": 'http_requests_total{job="cart",code="500"}', "values": counter_notation(bad)},
    ]


def _measures() -> list[tuple[str, str]]:
    span = f"[{MINUTES}m:1m]"
    out = []
    for source, marker in (("sloth", 'obskit_slo_id=""'), ("obskit", 'obskit_slo_id!=""')):
        for severity, windows in SHORT.items():
            for window in windows:
                sel = (
                    f'ALERTS{{alertname="CartHighErrorRate",alertstate="firing",{marker},'
                    f'sloth_severity="{severity}",sloth_window="{window}"}}'
                )
                key = f"{source}/{severity}/{window}"
                out += [
                    (f"{key}/minutes", f"sum(count_over_time({sel}{span})) or vector(0)"),
                    (f"{key}/first",
                     f"min(min_over_time(timestamp({sel}){span})) / 60 or vector(-1)"),
                    (f"{key}/last",
                     f"max(max_over_time(timestamp({sel}){span})) / 60 or vector(-1)"),
                ]  # fmt: skip
    return out


def _expected_alerts(obskit_rules: str) -> list[dict[str, Any]]:
    """Both tools' alerts 30 minutes into the outage: Sloth's labels, obskit's added."""
    common = {"owner": "shop-team", "tier": "2", "category": "availability",
              "sloth_id": "cart-requests-availability", "sloth_service": "cart",
              "sloth_slo": "requests-availability"}  # fmt: skip
    page = {**common, "severity": "pageteam", "routing_key": "shop-team",
            "sloth_severity": "page", "sloth_window": "5m"}  # fmt: skip
    ticket = {**common, "severity": "slack", "sloth_severity": "ticket", "sloth_window": "2h"}
    extra = {c.SLO_LABEL_SERVICE: "cart", c.SLO_LABEL_SLO: "requests-availability",
             c.SLO_LABEL_ID: "cart-requests-availability"}  # fmt: skip
    summary = "High error rate on 'cart' responses"
    out = []
    for labels, severity in ((page, "page"), (ticket, "ticket")):
        notes = {
            "summary": summary,
            "title": f"({severity}) cart requests-availability SLO error budget burn rate is "
            "too fast.",
        }
        out.append({"exp_labels": labels, "exp_annotations": notes})
        out.append({"exp_labels": {**labels, **extra}, "exp_annotations": notes})
    assert "sloth_severity: page" in obskit_rules
    return out


@pytest.fixture(scope="module")
def measured(promtool: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the reference and obskit's rules over the same traffic in one promtool file."""
    folder = tmp_path_factory.mktemp("sloth-vs-obskit")
    (folder / "spec.yaml").write_text(textwrap.dedent(SPEC))
    (service,) = load([folder / "spec.yaml"])
    obskit_rules = build([service], dashboards=DashboardOptions(enabled=False))["rules/cart.yaml"]
    (folder / "obskit.yaml").write_text(obskit_rules)
    (folder / "sloth.yaml").write_text(_sloth_reference())
    measures = _measures()
    test = {
        "interval": "1m",
        "input_series": _series(),
        "promql_expr_test": [
            {"expr": expr, "eval_time": f"{MINUTES}m", "exp_samples": []} for _, expr in measures
        ],
    }
    check = {
        "interval": "1m",
        "input_series": _series(),
        "alert_rule_test": [{
            "eval_time": f"{OUTAGE_PLUS_30}m",
            "alertname": "CartHighErrorRate",
            "exp_alerts": _expected_alerts(obskit_rules),
        }],
    }  # fmt: skip
    for name, body in (("measure.yaml", test), ("labels.yaml", check)):
        doc = {"rule_files": ["sloth.yaml", "obskit.yaml"], "evaluation_interval": "1m",
               "tests": [body]}  # fmt: skip
        (folder / name).write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))
    proc = run(promtool, folder, [folder / "measure.yaml", folder / "labels.yaml"])
    output = proc.communicate(timeout=600)[0]
    parts = sections(output)
    values = [float(v) for v in _GOT_RE.findall(parts["measure.yaml"])]
    assert len(values) == len(measures), output
    return {"values": dict(zip([k for k, _ in measures], values, strict=True)),
            "labels": parts["labels.yaml"]}  # fmt: skip


def test_alerts_carry_sloths_labels_and_annotations_plus_obskits(measured: dict[str, Any]) -> None:
    """30 minutes into an outage: one page and one ticket alert from each, Sloth's labels exact."""
    assert "SUCCESS" in measured["labels"], measured["labels"]


@pytest.mark.parametrize(("severity", "window"), [(s, w) for s, ws in SHORT.items() for w in ws])
def test_same_alerts_at_the_same_minutes(
    measured: dict[str, Any], severity: str, window: str
) -> None:
    """Per severity and sloth_window: the same alerts as Sloth's, starting and stopping at the
    same minute or up to 5 minutes later, firing as many minutes give or take 5.

    obskit computes every window but 5m from its recorded 5-minute rates: such a window sees a
    change fully 5 minutes after a raw `rate()` window does, and forgets it up to 5 minutes
    later (docs/slo-rules.md, "How the windows are computed"); one more minute of slack for
    one-minute evaluation steps.
    """
    values = measured["values"]
    for what in ("first", "last"):
        sloth = values[f"sloth/{severity}/{window}/{what}"]
        obskit = values[f"obskit/{severity}/{window}/{what}"]
        assert -1 <= obskit - sloth <= 5, (what, sloth, obskit)
    sloth, obskit = (values[f"{x}/{severity}/{window}/minutes"] for x in ("sloth", "obskit"))
    assert abs(sloth - obskit) <= 5, ("minutes", sloth, obskit)


def test_the_comparison_covers_firing_and_resetting(measured: dict[str, Any]) -> None:
    """The traffic makes every window pair of Sloth's alerts fire, and each one resets."""
    values = measured["values"]
    for severity, windows in SHORT.items():
        for window in windows:
            assert values[f"sloth/{severity}/{window}/minutes"] > 0, (severity, window)
            assert 0 < values[f"sloth/{severity}/{window}/last"] < MINUTES - 1, (severity, window)
    # The outage pages through the 5m/1h pair within minutes of its start (minute 360).
    assert 360 < values["sloth/page/5m/first"] <= 365


def _alerts(path: Path) -> list[dict[str, Any]]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_alert_shape_option_switches_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--alert-shape windows: Sloth input gets obskit's four alerts; sloth: a native spec two."""
    monkeypatch.chdir(tmp_path)
    Path("specs").mkdir()
    Path("specs/cart.yaml").write_text(textwrap.dedent(SPEC))
    Path("specs/shop.yaml").write_text(
        "service: shop\nslos:\n  - name: availability\n    objective: 99.5\n"
        "    sli: {availability: {}}\n"
    )
    assert main(["slo", "build", "specs", "--out", "auto"]) == 0
    assert main(["slo", "build", "specs", "--out", "win", "--alert-shape", "windows"]) == 0
    assert main(["slo", "build", "specs", "--out", "sl", "--alert-shape", "sloth"]) == 0
    auto_cart, auto_shop = (
        _alerts(Path("auto/rules/cart.yaml")),
        _alerts(Path("auto/rules/shop.yaml")),
    )
    assert [a["labels"]["sloth_severity"] for a in auto_cart] == ["page", "ticket"]
    assert [a["labels"][c.ALERT_LABEL_TIER] for a in auto_shop] == [
        "page-1h",
        "page-6h",
        "ticket-1d",
        "ticket-3d",
    ]
    win_cart = _alerts(Path("win/rules/cart.yaml"))
    assert [a["labels"][c.ALERT_LABEL_TIER] for a in win_cart] == [
        "page-1h",
        "page-6h",
        "ticket-1d",
        "ticket-3d",
    ]
    assert all("for" not in a for a in win_cart)  # Sloth input has no `for:` in either shape
    assert all("sloth_severity" not in a["labels"] for a in win_cart)
    # Sloth input's recordings keep Sloth's labels in both shapes: same series, same history.
    records = [
        rule
        for path in ("auto/rules/cart.yaml", "win/rules/cart.yaml")
        for group in yaml.safe_load(Path(path).read_text())["groups"]
        for rule in group["rules"]
        if rule.get("record") == c.error_ratio_rule("1h")
    ]
    assert records[0]["labels"] == records[1]["labels"]
    assert records[0]["labels"][c.SLOTH_LABEL_WINDOW] == "1h"
    sloth_shop = _alerts(Path("sl/rules/shop.yaml"))
    assert [(a["labels"]["sloth_severity"], a["labels"]["severity"]) for a in sloth_shop] == [
        ("page", "page"),
        ("ticket", "ticket"),
    ]
    assert [a["for"] for a in sloth_shop] == ["2m", "15m"]  # the native spec's defaults stay
    assert sloth_shop[0]["labels"][c.SLOTH_LABEL_ID] == "shop-availability"
    # A native spec's recordings are the same in both shapes.
    assert "sloth_" not in Path("sl/rules/shop.yaml").read_text().split("- alert:")[0]
