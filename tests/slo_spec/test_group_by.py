"""Grouping: Pyrra's ``indicator.<kind>.grouping`` and the native ``sli.<kind>.group_by`` load
into one SLI per group (templates summed ``by`` the labels), and every unsafe or meaningless
grouping is a located error."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from obskit.slo import SpecErrors, load
from obskit.slo._model import WINDOW_PLACEHOLDER as W
from obskit.slo._schema import native_schema

ROOT = Path(__file__).resolve().parents[2]
INPUTS = ROOT / "tests" / "golden" / "inputs"


def _errors(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "svc.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(SpecErrors) as caught:
        load([tmp_path / "svc.yaml"])
    return [str(e).replace(f"{tmp_path}{os.sep}", "") for e in caught.value.errors]


def test_pyrra_grouping_sums_every_template_by_the_labels() -> None:
    """Pyrra's grouping examples (ratio by `controller`, latencyNative by `service, method`)
    and a latency grouping by two labels: every rate is `sum by` the labels, sorted as Pyrra
    sorts them."""
    [service] = load([INPUTS / "pyrra-grouping.yaml"])
    errors, latency, native = service.slos
    assert errors.sli.group_by == ("controller",)
    assert errors.sli.error_query == (
        "sum by (controller) (rate(prometheus_operator_reconcile_errors_total"
        f'{{job="prometheus-operator"}}[{W}]))'
    )
    assert latency.sli.group_by == ("handler", "method")
    total = (
        "sum by (handler, method) (rate(prometheus_http_request_duration_seconds_count"
        f'{{job="prometheus-operator"}}[{W}]))'
    )
    assert latency.sli.total_query == total
    assert latency.sli.error_query.startswith(f"{total} - sum by (handler, method) (rate(")
    # Pyrra's latencyNative example: grouping [service, method], sorted as Pyrra sorts it.
    assert native.sli.group_by == ("method", "service")
    assert native.sli.total_query == (
        "histogram_count(sum by (method, service) (rate(connect_server_requests_duration_seconds"
        f'{{job="prometheus-operator",code="ok"}}[{W}])))'
    )


def test_pyrra_empty_grouping_and_duplicates(tmp_path: Path) -> None:
    """`grouping: []` is no grouping (the CRD's optional list); a repeated label counts once."""
    head = """\
        apiVersion: pyrra.dev/v1alpha1
        kind: ServiceLevelObjective
        metadata: {name: up, namespace: api}
        spec:
          target: "99"
          window: 2w
          indicator:
            bool_gauge:
              metric: up{job="api"}
        """
    (tmp_path / "a.yaml").write_text(textwrap.dedent(head) + "      grouping: []\n")
    [service] = load([tmp_path / "a.yaml"])
    assert service.slos[0].sli.group_by == ()
    assert service.slos[0].sli.total_query == f'sum(count_over_time(up{{job="api"}}[{W}]))'
    (tmp_path / "a.yaml").write_text(
        textwrap.dedent(head) + "      grouping: [instance, instance]\n"
    )
    [service] = load([tmp_path / "a.yaml"])
    assert service.slos[0].sli.group_by == ("instance",)
    assert service.slos[0].sli.total_query == (
        f'sum by (instance) (count_over_time(up{{job="api"}}[{W}]))'
    )


def test_native_group_by_on_every_kind() -> None:
    """The native golden input: availability by route (obskit's own metric), and a ratio whose
    errors already `sum by (queue)` (kept as written) and whose total is a bare rate (summed)."""
    [service] = load([INPUTS / "native-grouped.yaml"])
    availability, jobs = service.slos
    assert availability.sli.group_by == ("http_route",)
    assert availability.sli.total_query.startswith("sum by (http_route) (rate(")
    assert jobs.sli.group_by == ("queue",)
    assert jobs.sli.error_query == (
        f'sum by (queue) (rate(jobs_failed_total{{job="gateway"}}[{W}]))'
    )
    assert jobs.sli.total_query == (
        f'sum by (queue) (rate(jobs_processed_total{{job="gateway"}}[{W}]))'
    )


NATIVE = """\
service: api
labels:
  team: core
slos:
  - name: slo
    objective: 99
    sli:
      {sli}
    alerting:
      labels:
        owner: x
"""


@pytest.mark.parametrize(
    ("sli", "expected"),
    [
        (
            "availability: {group_by: [http_response_status_code]}",
            "svc.yaml:8: slos[0].sli.availability.group_by[0]: 'http_response_status_code' is "
            "what the SLI tells good from bad events by: grouping by it would put good and bad "
            "events in different groups",
        ),
        (
            "latency: {threshold: 0.5, group_by: [le]}",
            "svc.yaml:8: slos[0].sli.latency.group_by[0]: 'le' is what the SLI tells good from "
            "bad events by: grouping by it would put good and bad events in different groups",
        ),
        (
            "availability: {group_by: [team]}",
            "svc.yaml:8: slos[0].sli.availability.group_by[0]: 'team' is also a label this SLO "
            "sets on every series and alert (labels, alerting labels, or the SLO's own): rename "
            "one of them",
        ),
        (
            "availability: {group_by: [owner]}",
            "svc.yaml:8: slos[0].sli.availability.group_by[0]: 'owner' is also a label this SLO "
            "sets on every series and alert (labels, alerting labels, or the SLO's own): rename "
            "one of them",
        ),
        (
            "operation: {name: sync, group_by: [obskit_slo]}",
            "svc.yaml:8: slos[0].sli.operation.group_by[0]: label name 'obskit_slo' is reserved: "
            "obskit sets the obskit_* labels",
        ),
        (
            'ratio: {errors: "sum(rate(e[{{.window}}]))", total: "rate(t[{{.window}}])", '
            "group_by: [queue]}",
            "svc.yaml:8: slos[0].sli.ratio.errors: the query's aggregation drops the group_by "
            "label(s) queue: write sum by (queue) (…) or leave the aggregation out (obskit sums "
            "by them)",
        ),
        (
            'ratio: {errors: "rate(e[{{.window}}])", '
            'total: "sum by (job) (rate(t[{{.window}}]))", group_by: [queue]}',
            "svc.yaml:8: slos[0].sli.ratio.total: the query's aggregation drops the group_by "
            "label(s) queue: write sum by (queue) (…) or leave the aggregation out (obskit sums "
            "by them)",
        ),
    ],
)
def test_native_group_by_errors(tmp_path: Path, sli: str, expected: str) -> None:
    """Grouping by what the SLI measures, by a label the SLO sets itself, by a reserved label,
    or over a query that already summed the label away: each a located error."""
    assert expected in _errors(tmp_path, NATIVE.format(sli=sli))


def test_schema_knows_group_by() -> None:
    """The JSON schema accepts `group_by` on every kind and flags a bad label name in it."""
    validator = jsonschema.Draft202012Validator(native_schema())
    data = yaml.safe_load((INPUTS / "native-grouped.yaml").read_text(encoding="utf-8"))
    assert list(validator.iter_errors(data)) == []
    for kind, body in (
        ("availability", {}),
        ("latency", {"threshold": 0.5}),
        ("operation", {"name": "x"}),
        ("ratio", {"errors": "e[{{.window}}]", "total": "t[{{.window}}]"}),
    ):
        data["slos"][0]["sli"] = {kind: {**body, "group_by": ["region"]}}
        assert list(validator.iter_errors(data)) == [], kind
        data["slos"][0]["sli"] = {kind: {**body, "group_by": ["bad-name"]}}
        assert list(validator.iter_errors(data)), kind
