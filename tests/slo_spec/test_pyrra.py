"""Pyrra ``pyrra.dev/v1alpha1`` ``ServiceLevelObjective`` files: what each indicator loads into,
how services are formed, and every unsupported or broken field as a located error."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from obskit.slo import SpecErrors, load
from obskit.slo._model import WINDOW_PLACEHOLDER as W

ROOT = Path(__file__).resolve().parents[2]
INPUTS = ROOT / "tests" / "golden" / "inputs"

HEAD = """\
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: {name}
  namespace: {namespace}
spec:
  target: "99.5"
  window: {window}
"""
RATIO = """\
  indicator:
    ratio:
      errors:
        metric: http_requests_total{job="api",code=~"5.."}
      total:
        metric: http_requests_total{job="api"}
"""
LATENCY = """\
  indicator:
    latency:
      success:
        metric: http_request_duration_seconds_bucket{job="api",le="0.5"}
      total:
        metric: http_request_duration_seconds_count{job="api"}
"""


def _doc(
    name: str = "errors", namespace: str = "api", window: str = "4w", body: str = RATIO
) -> str:
    return HEAD.format(name=name, namespace=namespace, window=window) + body


def _errors(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "f.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(SpecErrors) as caught:
        load([tmp_path])
    return [str(e).replace(f"{tmp_path}{os.sep}", "") for e in caught.value.errors]


def test_ratio_and_latency_objectives_of_one_namespace_form_one_service() -> None:
    """Pyrra's ratio → errors/total rates; latency → total - success; 4w and 2w → 28 and 14
    days; the namespace names the service; Pyrra's `slo` label and default alert name kept."""
    [service] = load([INPUTS / "pyrra-ratio-latency.yaml"])
    assert service.name == "storefront"
    errors, latency = service.slos
    assert (errors.name, errors.objective, errors.period_days) == ("ingress-errors", 99.9, 28)
    sel = 'nginx_ingress_controller_requests{namespace="storefront",ingress="shop"'
    assert errors.sli.error_query == f'sum(rate({sel},status=~"5.."}}[{W}]))'
    assert errors.sli.total_query == f"sum(rate({sel}}}[{W}]))"
    assert (latency.objective, latency.period_days) == (90.0, 14)
    metric = "nginx_ingress_controller_request_duration_seconds"
    shop = 'namespace="storefront",ingress="shop"'
    total = f"sum(rate({metric}_count{{{shop}}}[{W}]))"
    good = f'sum(rate({metric}_bucket{{{shop},le="1"}}[{W}]))'
    assert latency.sli.total_query == total
    assert latency.sli.error_query == f"{total} - {good}"
    assert latency.description == "90% of shop requests are served in under one second"
    for slo in service.slos:
        assert dict(slo.labels) == {"slo": slo.name}
        assert slo.alerting.name == "ErrorBudgetBurn"
        assert slo.alerting.page
        assert slo.alerting.ticket


def test_bool_gauge_propagates_prefixed_labels_and_annotations_only() -> None:
    """`pyrra.dev/` labels and annotations reach the rules without the prefix (as in Pyrra);
    `prometheus: k8s`-style object labels do not; `pyrra.dev/service` names the service."""
    [service] = load([INPUTS / "pyrra-bool-gauge.yaml"])
    [slo] = service.slos
    assert service.name == "prometheus"
    assert dict(slo.labels) == {
        "slo": "prometheus-availability",
        "team": "observability",
        "service": "prometheus",
    }
    assert dict(slo.alerting.annotations) == {
        "runbook": "https://runbooks.example.com/prometheus-availability"
    }
    assert slo.alerting.name == "PrometheusAvailabilityErrorBudgetBurn"
    count = f'sum(count_over_time(up{{job="prometheus-k8s"}}[{W}]))'
    assert slo.sli.total_query == count
    assert slo.sli.error_query == f'{count} - sum(sum_over_time(up{{job="prometheus-k8s"}}[{W}]))'


def test_latency_native_uses_histogram_fraction_at_the_threshold_in_seconds() -> None:
    """latencyNative 200ms: errors = count * (1 - histogram_fraction(0, 0.2, …))."""
    [service] = load([INPUTS / "pyrra-latency-native.yaml"])
    [slo] = service.slos
    rate = f'sum(rate(connect_server_requests_duration_seconds{{job="pyrra",code="ok"}}[{W}]))'
    assert slo.sli.total_query == f"histogram_count({rate})"
    assert slo.sli.error_query == (
        f"histogram_count({rate}) * (1 - histogram_fraction(0, 0.2, {rate}))"
    )


def test_objects_of_one_namespace_in_many_files_merge(tmp_path: Path) -> None:
    """One object per file, as Pyrra users keep them: one service, SLOs in file order."""
    (tmp_path / "a.yaml").write_text(_doc("errors"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(_doc("more-errors"), encoding="utf-8")
    (tmp_path / "c.yaml").write_text(_doc("other", namespace="billing"), encoding="utf-8")
    services = load([tmp_path])
    assert [(s.name, [slo.name for slo in s.slos]) for s in services] == [
        ("api", ["errors", "more-errors"]),
        ("billing", ["other"]),
    ]


def test_same_name_in_two_files_names_both_locations(tmp_path: Path) -> None:
    """Two objects called `errors` in namespace `api`: the error gives both file:line."""
    (tmp_path / "a.yaml").write_text(_doc("errors"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text("# copy\n" + _doc("errors"), encoding="utf-8")
    with pytest.raises(SpecErrors) as caught:
        load([tmp_path])
    [message] = [str(e).replace(f"{tmp_path}{os.sep}", "") for e in caught.value.errors]
    assert message == (
        "b.yaml:2: metadata.name: duplicate SLO name 'errors' in service 'api': "
        "also defined at a.yaml:1"
    )


def test_alerting_disabled_or_burnrates_false_keeps_recordings_only(tmp_path: Path) -> None:
    """`disabled: true` (deprecated) and `burnrates: false` both switch every alert off."""
    for flag in ("disabled: true", "burnrates: false"):
        (tmp_path / "f.yaml").write_text(_doc() + f"  alerting:\n    {flag}\n", encoding="utf-8")
        [service] = load([tmp_path / "f.yaml"])
        alerting = service.slos[0].alerting
        assert (alerting.page, alerting.ticket) == (False, False), flag


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            _doc(window="12h"),
            "f.yaml:8: spec.window: 12h is not a whole number of days "
            "(obskit periods are days: 28d, 4w)",
        ),
        (
            _doc(window="soon"),
            "f.yaml:8: spec.window: must be a duration such as 28d, 4w or 2w, not 'soon'",
        ),
        (
            _doc().replace('"99.5"', '"0.995"'),
            "f.yaml:7: spec.target: is a percentage from 0 to 100: write 99.5 for 0.995",
        ),
        (
            _doc().replace('"99.5"', '"100"'),
            "f.yaml:7: spec.target: must be below 100: a 100 % objective leaves no error budget",
        ),
        (
            _doc() + "      grouping:\n        - handler\n        - 'bad-name'\n",
            "f.yaml:17: spec.indicator.ratio.grouping[1]: invalid label name 'bad-name': must "
            "match [a-zA-Z_][a-zA-Z0-9_]*",
        ),
        (
            _doc() + "      grouping:\n        - slo\n",
            "f.yaml:16: spec.indicator.ratio.grouping[0]: 'slo' is also a label this SLO sets on "
            "every series and alert (labels, alerting labels, or the SLO's own): rename one of "
            "them",
        ),
        (
            _doc() + "      grouping:\n        - severity\n",
            "f.yaml:16: spec.indicator.ratio.grouping[0]: label name 'severity' is set on every "
            "alert by obskit; it cannot be a group label",
        ),
        (
            _doc() + "      grouping: handler\n",
            "f.yaml:15: spec.indicator.ratio.grouping: must be a non-empty list",
        ),
        (
            _doc().replace(
                "      total:\n", "        grouping:\n          - handler\n      total:\n"
            ),
            "f.yaml:13: spec.indicator.ratio.errors.grouping: belongs to the indicator: write it "
            "as spec.indicator.ratio.grouping (Pyrra's CRD has no grouping here)",
        ),
        (
            _doc(body=LATENCY + "      grouping: [le]\n"),
            "f.yaml:15: spec.indicator.latency.grouping[0]: 'le' is what the SLI tells good from "
            "bad events by: grouping by it would put good and bad events in different groups",
        ),
        (
            _doc().replace('http_requests_total{job="api"}\n', "rate(http_requests_total[5m])\n"),
            "f.yaml:14: spec.indicator.ratio.total.metric: must be a plain metric selector such "
            'as http_requests_total{job="api"}: Pyrra metrics are counters (or a boolean gauge) '
            "that obskit wraps in rate() itself",
        ),
        (
            _doc() + "  alerting:\n    burnRateType: dynamic\n",
            "f.yaml:16: spec.alerting.burnRateType: not supported: 'dynamic' burn rates; obskit "
            "alerts on the SRE Workbook's static burn rates (remove burnRateType or set it to "
            "static)",
        ),
        (
            _doc() + "  latency: '1'\n",
            "f.yaml:15: spec.latency: unknown key (Pyrra ignores it too): the threshold is the "
            "le=… matcher of indicator.latency.success.metric; remove it",
        ),
        (
            _doc().replace("kind: ServiceLevelObjective", "kind: SLO"),
            "f.yaml:2: kind: must be ServiceLevelObjective for apiVersion pyrra.dev/v1alpha1",
        ),
    ],
)
def test_broken_fields_are_located_errors(tmp_path: Path, text: str, expected: str) -> None:
    """Each mistake names file, line and field; nothing Pyrra would misread is let through."""
    assert expected in _errors(tmp_path, text)


def test_latency_success_must_select_one_bucket(tmp_path: Path) -> None:
    """A latency `success` selector without `le` is refused (Pyrra refuses it too)."""
    body = """\
  indicator:
    latency:
      success:
        metric: http_request_duration_seconds_bucket{job="api"}
      total:
        metric: http_request_duration_seconds_count{job="api"}
"""
    assert _errors(tmp_path, _doc(body=body)) == [
        'f.yaml:12: spec.indicator.latency.success.metric: must select one bucket with le="…"'
    ]


def test_label_values_cannot_inject_promql(tmp_path: Path) -> None:
    """A propagated label value with a quote or newline is refused, not rendered."""
    text = _doc().replace(
        "  namespace: api\n",
        "  namespace: api\n  labels:\n    pyrra.dev/team: 'a\"} or vector(1)'\n",
    )
    [message] = _errors(tmp_path, text)
    assert message.startswith("f.yaml:7: metadata.labels.pyrra.dev/team: ")
