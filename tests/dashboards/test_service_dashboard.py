"""The per-service dashboard generated from an SLO model."""

from __future__ import annotations

import json
from typing import Any

from obskit import conventions as c
from obskit.dashboards._ids import service_uid
from obskit.dashboards._lint import lint
from obskit.dashboards._queries import iter_queries
from obskit.dashboards._service import service_dashboard
from obskit.slo import Service

from .conftest import make_service, make_slo


def _all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def _by_title(dashboard: dict[str, Any], title: str) -> list[dict[str, Any]]:
    return [p for p in _all_panels(dashboard) if p.get("title") == title]


def test_service_dashboard_passes_lint(checkout: Service) -> None:
    """The generated dashboard has no structural problem."""
    assert lint(service_dashboard(checkout)) == []


def test_one_row_per_slo_first_expanded_rest_collapsed(checkout: Service) -> None:
    """Each SLO gets a row; the first is open, later ones hold their panels collapsed."""
    dashboard = service_dashboard(checkout)
    rows = [p for p in dashboard["panels"] if p["type"] == "row"]
    assert [r["title"] for r in rows] == [
        "SLO availability: 99.9 % over 30d",
        "SLO latency: 99 % over 28d",
        'HTTP traffic (job="checkout")',
    ]
    assert [r["collapsed"] for r in rows] == [False, True, False]
    assert rows[0]["panels"] == []
    assert {p["title"] for p in rows[1]["panels"]} >= {
        "SLI vs objective",
        "Error budget remaining",
        "Burn rate per alert window",
        "Error budget consumed over 28d",
    }


def test_slo_panels_read_the_recording_rules_of_that_slo(checkout: Service) -> None:
    """SLO figures come from the recorded series, selected by service and SLO label."""
    dashboard = service_dashboard(checkout)
    stat = _by_title(dashboard, "Error budget remaining")[0]
    assert stat["targets"][0]["expr"] == (
        f'{c.RULE_ERROR_BUDGET_REMAINING}{{obskit_service="checkout", obskit_slo="availability"}}'
    )
    assert stat["targets"][0]["instant"] is True
    assert stat["fieldConfig"]["defaults"]["unit"] == "percentunit"
    sli = _by_title(dashboard, "SLI vs objective")[0]
    exprs = [t["expr"] for t in sli["targets"]]
    assert any(c.error_ratio_rule("5m") in e for e in exprs)
    assert any(c.RULE_OBJECTIVE in e for e in exprs)


def test_burn_rate_thresholds_are_the_tier_burn_rates() -> None:
    """30-day tiers draw 1/3/6/14.4; 28-day ones are rescaled; disabled pages draw nothing."""
    service = make_service(
        "svc",
        make_slo("svc", "a", 99.9),
        make_slo("svc", "b", 99.9, period_days=28),
        make_slo("svc", "c", 99.9, page=False),
    )
    dashboard = service_dashboard(service)
    panels = _by_title(dashboard, "Burn rate per alert window")
    values = [
        [s["value"] for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"]] for p in panels
    ]
    assert values == [
        [None, 1.0, 3.0, 6.0, 14.4],
        [None, 0.9333, 2.8, 5.6, 13.44],
        [None, 1.0, 3.0],
    ]
    assert panels[0]["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
    assert panels[0]["targets"][0]["legendFormat"] == "{{obskit_window}}"


def test_firing_slo_alerts_are_annotations(checkout: Service) -> None:
    """An annotation query shows the service's firing alerts, through the datasource variable."""
    annotations = service_dashboard(checkout)["annotations"]["list"]
    assert len(annotations) == 1
    assert annotations[0]["expr"] == 'ALERTS{alertstate="firing", obskit_service="checkout"}'
    assert annotations[0]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_red_panels_rate_raw_counters_and_enable_exemplars(checkout: Service) -> None:
    """RED panels use $__rate_interval over the runtime histogram; latency has exemplars."""
    dashboard = service_dashboard(checkout)
    latency = _by_title(dashboard, "Latency by route (p50 / p90 / p99)")[0]
    assert [t["exemplar"] for t in latency["targets"]] == [True, True, True]
    assert latency["targets"][2]["expr"] == (
        "histogram_quantile(0.99, sum by (le, http_route) (rate("
        'http_server_request_duration_seconds_bucket{job="checkout", '
        'http_route=~"${route:regex}"}[$__rate_interval])))'
    )
    rate = _by_title(dashboard, "Request rate by route")[0]
    assert "[$__rate_interval]" in rate["targets"][0]["expr"]
    assert rate["fieldConfig"]["defaults"]["unit"] == "reqps"
    route = next(v for v in dashboard["templating"]["list"] if v["name"] == "route")
    assert route["query"] == (
        'label_values(http_server_request_duration_seconds_count{job="checkout"}, http_route)'
    )


def test_service_without_selector_has_no_red_panels() -> None:
    """A service whose SLIs are raw queries (no selector) gets SLO rows only, no route variable."""
    dashboard = service_dashboard(make_service("raw", make_slo("raw", "x", 99), selector=False))
    assert lint(dashboard) == []
    assert not _by_title(dashboard, "Request rate by route")
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]


def test_user_text_is_escaped_in_markdown(checkout: Service) -> None:
    """SLO descriptions cannot inject HTML into the text panel."""
    about = _by_title(service_dashboard(checkout), "About availability")[0]
    content = about["options"]["content"]
    assert "Orders &lt;b&gt;go&lt;/b&gt; through" in content
    assert "<b>" not in content


def test_uid_is_stable_and_valid() -> None:
    """Short names give readable uids; long or odd names a hashed, collision-safe one."""
    assert service_uid("checkout") == "slo-checkout"
    long_a = service_uid("a" * 60 + "-one")
    long_b = service_uid("a" * 60 + "-two")
    assert long_a != long_b
    assert len(long_a) == len(long_b) == 40
    assert service_uid("a" * 60 + "-one") == long_a
    odd = service_uid("shop.checkout/v2")
    assert odd.startswith("slo-shop-checkout-v2-")
    assert len(odd) <= 40


def test_panel_ids_unique_and_rendering_is_deterministic(checkout: Service) -> None:
    """Two renders are identical and panel ids are 1..n in layout order."""
    first = json.dumps(service_dashboard(checkout), sort_keys=True)
    second = json.dumps(service_dashboard(checkout), sort_keys=True)
    assert first == second
    ids = [p["id"] for p in _all_panels(service_dashboard(checkout))]
    assert sorted(ids) == list(range(1, len(ids) + 1))


def test_stat_queries_are_instant_and_timeseries_are_range(checkout: Service) -> None:
    """iter_queries reports stat targets as instant and graph targets as range queries."""
    queries = list(iter_queries(service_dashboard(checkout)))
    instant = {title for title, _expr, is_instant in queries if is_instant}
    assert instant == {"SLI over 30d", "SLI over 28d", "Error budget remaining", "Burn rate (1h)"}
