"""Each golden input loads into exactly the model values its format promises."""

from __future__ import annotations

import re
from pathlib import Path

import promql_parser
import pytest

from obskit import conventions as c
from obskit.slo import SLO, Service, load
from obskit.slo._model import WINDOW_PLACEHOLDER

ROOT = Path(__file__).resolve().parents[2]
INPUTS = ROOT / "tests" / "golden" / "inputs"


def _one(name: str) -> tuple[Service, SLO]:
    services = load([INPUTS / name])
    assert len(services) == 1
    assert len(services[0].slos) == 1
    return services[0], services[0].slos[0]


def _parses(template: str) -> None:
    promql_parser.parse(template.replace(WINDOW_PLACEHOLDER, "5m"))


def test_native_availability_builds_escaped_matchers_and_every_alert_option() -> None:
    """Routes become an escaped regex, errors a status regex, the selector is the spec's."""
    service, slo = _one("native-availability.yaml")
    assert service.name == "cart"
    assert service.selector == (("namespace", "shop"), ("app", "cart"))
    assert dict(service.labels) == {"team": "shop"}
    narrowing = (
        'namespace="shop",app="cart",'
        f'{c.LABEL_ROUTE}=~"/cart/\\\\{{id\\\\}}|/cart",{c.LABEL_METHOD}=~"GET|POST"'
    )
    assert slo.sli.kind == "availability"
    assert slo.sli.total_query == (
        f"sum(rate({c.HTTP_DURATION_COUNT}{{{narrowing}}}[{WINDOW_PLACEHOLDER}]))"
    )
    assert slo.sli.error_query == (
        f'sum(rate({c.HTTP_DURATION_COUNT}{{{narrowing},{c.LABEL_STATUS}=~"5..|429"}}'
        f"[{WINDOW_PLACEHOLDER}]))"
    )
    assert slo.sli.description == "5xx or 429 responses"
    for query in (slo.sli.error_query, slo.sli.total_query):
        _parses(query)
    # The route regex, once PromQL unescapes it, matches the literal template "/cart/{id}"
    # and nothing looser (Prometheus anchors regex matchers; fullmatch does the same).
    literal = re.search(r'http_route=~"((?:[^"\\]|\\.)*)"', slo.sli.total_query)
    assert literal is not None
    value = literal.group(1).replace("\\\\", "\\")
    assert re.fullmatch(value, "/cart/{id}")
    assert re.fullmatch(value, "/cart")
    assert not re.fullmatch(value, "/cart/x")
    assert slo.objective == 99.9
    assert slo.period_days == 30
    assert slo.description == "Cart requests succeed."
    assert dict(slo.labels) == {"team": "shop"}
    alerting = slo.alerting
    assert alerting.name == "CartAvailability"
    assert (alerting.page, alerting.ticket) == (True, True)
    assert dict(alerting.labels) == {"tier": "1"}
    assert dict(alerting.annotations) == {"dashboard": "https://grafana.example.com/d/cart"}
    assert alerting.runbook_url == "https://runbooks.example.com/cart"
    assert alerting.min_events == 50.0
    assert (alerting.page_for, alerting.ticket_for) == ("1m", "30m")
    assert dict(alerting.page_labels) == {"pager": "cart-oncall"}
    assert dict(alerting.page_annotations) == {"escalation": "call the cart team"}
    assert dict(alerting.ticket_labels) == {"queue": "cart"}
    assert slo.source.path.endswith("native-availability.yaml")
    assert slo.source.line == 10


def test_native_latency_uses_the_bucket_le_spelled_like_prometheus_client() -> None:
    """errors = all requests - requests in the le="0.25" bucket; default job selector."""
    service, slo = _one("native-latency.yaml")
    assert service.selector == (("job", "profile"),)
    total = f'sum(rate({c.HTTP_DURATION_COUNT}{{job="profile"}}[{WINDOW_PLACEHOLDER}]))'
    good = f'sum(rate({c.HTTP_DURATION_BUCKET}{{job="profile",le="0.25"}}[{WINDOW_PLACEHOLDER}]))'
    assert slo.sli.kind == "latency"
    assert slo.sli.total_query == total
    assert slo.sli.error_query == f"{total} - {good}"
    assert slo.period_days == 28
    assert slo.objective == 99.5
    assert slo.alerting.name == "ProfileLatencyBudgetBurn"
    assert (slo.alerting.page_for, slo.alerting.ticket_for, slo.alerting.min_events) == (
        "2m",
        "15m",
        0.0,
    )
    _parses(slo.sli.error_query)


def test_native_ratio_with_error_query_keeps_the_queries() -> None:
    """A `ratio` SLI with `errors` keeps both queries verbatim (already single sums)."""
    _, slo = _one("native-ratio-errors.yaml")
    assert slo.sli.kind == "ratio"
    assert slo.sli.error_query == (
        'sum(rate(payments_charges_total{job="payments",result="error"}[{{.window}}]))'
    )
    assert slo.sli.total_query == 'sum(rate(payments_charges_total{job="payments"}[{{.window}}]))'
    assert slo.objective == 99.95


def test_native_ratio_with_good_query_becomes_total_minus_good() -> None:
    """`good` turns into total - good; `{{ .window }}` is normalised; page off."""
    _, slo = _one("native-ratio-good.yaml")
    total = 'sum(rate(mail_sent_total{job="mailer"}[{{.window}}]))'
    good = 'sum(rate(mail_delivered_total{job="mailer"}[{{.window}}]))'
    assert slo.sli.total_query == total
    assert slo.sli.error_query == f"{total} - {good}"
    assert slo.period_days == 7
    assert (slo.alerting.page, slo.alerting.ticket) == (False, True)


def test_native_operation_counts_error_outcomes() -> None:
    """The operation SLI reads obskit.observe()'s histogram with outcome="error" as errors."""
    _, slo = _one("native-operation.yaml")
    base = f'job="indexer",{c.LABEL_OPERATION}="reindex"'
    assert slo.sli.kind == "operation"
    assert slo.sli.total_query == (
        f"sum(rate({c.OPERATION_DURATION_COUNT}{{{base}}}[{WINDOW_PLACEHOLDER}]))"
    )
    assert slo.sli.error_query == (
        f'sum(rate({c.OPERATION_DURATION_COUNT}{{{base},{c.LABEL_OUTCOME}="{c.OUTCOME_ERROR}"}}'
        f"[{WINDOW_PLACEHOLDER}]))"
    )


def test_sloth_events_keep_alert_name_and_every_label() -> None:
    """Sloth alert name, labels and annotations survive exactly; service labels merge."""
    service, slo = _one("sloth-events.yaml")
    assert service.name == "myservice"
    assert service.selector == ()
    assert dict(service.labels) == {"owner": "myteam"}
    assert slo.name == "requests-availability"
    assert slo.period_days == 30
    assert dict(slo.labels) == {"owner": "myteam", "category": "availability"}
    assert slo.sli.kind == "ratio"
    assert slo.sli.error_query is not None
    assert 'code=~"(5..|429)"' in slo.sli.error_query
    assert slo.alerting.name == "MyServiceHighErrorRate"
    assert dict(slo.alerting.labels) == {"category": "availability"}
    assert dict(slo.alerting.annotations) == {
        "summary": "High error rate on 'myservice' requests responses"
    }
    assert dict(slo.alerting.page_labels) == {"severity": "pageteam", "routing_key": "myteam"}
    assert dict(slo.alerting.ticket_labels) == {
        "severity": "slack",
        "slack_channel": "#alerts-myteam",
    }


def test_sloth_raw_sets_only_the_error_ratio_and_honours_disable() -> None:
    """`raw.error_ratio_query` → kind raw with only error_ratio_query; ticket disabled."""
    _, slo = _one("sloth-raw.yaml")
    assert slo.sli.kind == "raw"
    assert slo.sli.error_query is None
    assert slo.sli.total_query is None
    assert slo.sli.error_ratio_query is not None
    assert slo.sli.error_ratio_query.startswith(
        'sum(rate(ledger_writes_total{job="ledger",status="failed"}[{{.window}}]))\n/\n'
    )
    _parses(slo.sli.error_ratio_query)
    assert (slo.alerting.page, slo.alerting.ticket) == (True, False)
    assert dict(slo.alerting.page_labels) == {"severity": "critical"}


def test_openslo_good_total_converts_target_ratio_exactly() -> None:
    """target 0.999 → objective 99.9 (no float noise); good becomes total - good."""
    service, slo = _one("openslo-good-total.yaml")
    assert service.name == "web"
    assert slo.name == "web-availability"
    assert slo.objective == 99.9
    assert slo.period_days == 30
    total = 'sum(rate(web_requests_total{job="web"}[{{.window}}]))'
    good = 'sum(rate(web_requests_total{job="web",code!~"5.."}[{{.window}}]))'
    assert slo.sli.error_query == f"{total} - {good}"
    assert slo.alerting.name == "WebAvailabilityBudgetBurn"
    assert slo.description == "Web front-end requests succeed."


def test_openslo_bad_total_reads_window_and_labels() -> None:
    """bad/total map straight onto error/total; a 28d timeWindow; metadata labels kept."""
    _, slo = _one("openslo-bad-total.yaml")
    assert slo.objective == 99.5
    assert slo.period_days == 28
    assert dict(slo.labels) == {"team": "api"}
    assert slo.sli.error_query == (
        'sum(rate(api_requests_total{job="api",code=~"5.."}[{{.window}}]))'
    )


def test_openslo_counter_selectors_are_rated_over_the_window() -> None:
    """counter: true with a plain selector → sum(rate(<selector>[{{.window}}]))."""
    _, slo = _one("openslo-counter.yaml")
    assert slo.sli.error_query == (
        'sum(rate(worker_jobs_total{job="worker",status="failed"}[{{.window}}]))'
    )
    assert slo.sli.total_query == 'sum(rate(worker_jobs_total{job="worker"}[{{.window}}]))'
    assert slo.objective == 99.0


def test_multi_document_file_detects_each_format() -> None:
    """One file, four documents: native, Sloth, an ignored OpenSLO Service, an OpenSLO SLO."""
    services = load([INPUTS / "multi-document.yaml"])
    assert [s.name for s in services] == ["auth", "sessions", "tokens"]
    auth, sessions, tokens = services
    assert auth.slos[0].sli.kind == "availability"
    assert auth.slos[0].source.line == 5
    assert tokens.slos[0].alerting.name == "TokenIssueErrors"
    assert tokens.slos[0].source.line == 14
    assert sessions.slos[0].objective == 99.9
    assert sessions.slos[0].source.line == 30


def test_folder_loads_every_golden_input_sorted_by_service() -> None:
    """A folder is searched recursively; services come back sorted by name."""
    services = load([INPUTS])
    names = [s.name for s in services]
    assert names == sorted(names)
    # fifteen single-service files (two Pyrra objects of one namespace make one service) +
    # three services in one file
    assert len(names) == 20


def test_bundled_examples_load() -> None:
    """slo/checkout.yaml (availability + latency) and the raw-query example load."""
    services = load([ROOT / "slo"])
    by_name = {s.name: s for s in services}
    checkout = by_name["checkout"]
    assert [slo.name for slo in checkout.slos] == ["availability", "latency"]
    assert [slo.sli.kind for slo in checkout.slos] == ["availability", "latency"]
    assert checkout.slos[0].alerting.min_events == 100
    assert checkout.slos[1].alerting.page is False
    assert by_name["search"].slos[0].sli.kind == "ratio"
    assert by_name["search"].slos[0].period_days == 28


@pytest.mark.parametrize("name", sorted(p.name for p in INPUTS.glob("*.yaml")))
def test_every_golden_query_parses(name: str) -> None:
    """Every template the loader produces parses as PromQL once the window is filled."""
    for service in load([INPUTS / name]):
        for slo in service.slos:
            for query in (slo.sli.error_query, slo.sli.total_query, slo.sli.error_ratio_query):
                if query is not None:
                    assert WINDOW_PLACEHOLDER in query
                    _parses(query)
