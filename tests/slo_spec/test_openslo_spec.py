"""OpenSLO v1 as the specification writes it: the list form, every key known, optional fields.

Fixtures follow the OpenSLO README's object definitions and examples (``ratioMetric`` with
``type: Prometheus`` and a ``metricSourceRef``, ``AlertPolicy``/``AlertCondition``/
``AlertNotificationTarget`` objects) and the ``OpenSLO/go-sdk`` v1 types (objective keys
``op``, ``value``, ``timeSliceTarget``, ``timeSliceWindow``, ``indicator``, ``compositeWeight``;
budgeting methods ``Occurrences``, ``Timeslices``, ``RatioTimeslices``).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from obskit.slo import DashboardOptions, SpecErrors, build, load

SLO = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: search-availability
  displayName: Search availability
spec:
  description: Search requests succeed.
  service: search
  budgetingMethod: Occurrences
  indicator:
    metadata:
      name: search-good-requests
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            metricSourceRef: prometheus-datasource
            spec:
              query: sum(rate(search_requests_total{code!~"5.."}[{{.window}}]))
        total:
          metricSource:
            type: Prometheus
            metricSourceRef: prometheus-datasource
            spec:
              query: sum(rate(search_requests_total[{{.window}}]))
  objectives:
    - displayName: Good
      target: 0.995
"""


def _write(tmp_path: Path, text: str) -> None:
    (tmp_path / "f.yaml").write_text(textwrap.dedent(text), encoding="utf-8")


def _errors(tmp_path: Path, text: str) -> list[str]:
    _write(tmp_path, text)
    with pytest.raises(SpecErrors) as caught:
        load([tmp_path])
    return [str(e).replace(f"{tmp_path}{os.sep}", "") for e in caught.value.errors]


def _as_list_item(text: str) -> str:
    lines = text.splitlines()
    return "\n".join(["- " + lines[0]] + ["  " + line for line in lines[1:]]) + "\n"


def test_list_form_with_every_object_kind_builds(tmp_path: Path) -> None:
    """A file that is one YAML list of objects (the Go SDK's form): every kind is read."""
    others = """\
    - apiVersion: openslo/v1
      kind: Service
      metadata: {name: search, displayName: Search}
      spec: {description: Full-text search}
    - apiVersion: openslo/v1
      kind: DataSource
      metadata: {name: prometheus-datasource}
      spec:
        type: Prometheus
        connectionDetails: {url: "http://prometheus:9090"}
    - apiVersion: openslo/v1
      kind: AlertCondition
      metadata: {name: fast-burn}
      spec:
        description: Budget burns fast
        severity: page
        condition: {kind: burnrate, threshold: 14.4, lookbackWindow: 1h, alertAfter: 5m}
    - apiVersion: openslo/v1
      kind: AlertNotificationTarget
      metadata: {name: on-call}
      spec: {description: Pages the on-call engineer, target: pagerduty}
    - apiVersion: openslo/v1
      kind: AlertPolicy
      metadata: {name: page-on-call}
      spec:
        alertWhenBreaching: true
        alertWhenResolved: false
        alertWhenNoData: false
        conditions: [{conditionRef: fast-burn}]
        notificationTargets: [{targetRef: on-call}]
    """
    _write(tmp_path, textwrap.dedent(others) + _as_list_item(SLO))
    (service,) = load([tmp_path])
    (slo,) = service.slos
    assert (service.name, slo.name, slo.objective, slo.period_days) == (
        "search",
        "search-availability",
        99.5,
        30,
    )
    assert slo.sli.total_query == "sum(rate(search_requests_total[{{.window}}]))"


def test_list_form_errors_name_the_line_in_the_file(tmp_path: Path) -> None:
    """An error inside the third object of a list is located on that object's line."""
    text = (
        "- apiVersion: openslo/v1\n  kind: Service\n  metadata: {name: a}\n  spec: {}\n"
        + _as_list_item(SLO.replace("target: 0.995", "target: 99.5"))
    )
    assert _errors(tmp_path, text) == [
        "f.yaml:34: spec.objectives[0].target: must be a ratio strictly between 0 and 1 "
        "(e.g. 0.999)"
    ]


def test_missing_time_window_defaults_to_30_days_stated_in_the_header(tmp_path: Path) -> None:
    """timeWindow is optional in the specification: 30 rolling days, said in the rule file."""
    _write(tmp_path, SLO)
    files = build(load([tmp_path]), dashboards=DashboardOptions(enabled=False))
    head = files["rules/search.yaml"].split("groups:")[0]
    assert (
        "# Note: OpenSLO SLO search/search-availability: no timeWindow, so obskit assumes a "
        "rolling 30d window (the specification leaves it optional)." in head
    )
    windowed = SLO.replace(
        "  objectives:\n",
        "  timeWindow:\n    - duration: 28d\n      isRolling: true\n  objectives:\n",
    )
    _write(tmp_path, windowed)
    (service,) = load([tmp_path])
    assert service.slos[0].period_days == 28
    files = build([service], dashboards=DashboardOptions(enabled=False))
    assert "# Note:" not in files["rules/search.yaml"]


@pytest.mark.parametrize("empty", ["alertPolicies:", "alertPolicies: []"])
def test_empty_alert_policies_are_accepted(tmp_path: Path, empty: str) -> None:
    """An empty alertPolicies asks for nothing obskit would not do."""
    _write(tmp_path, SLO + f"  {empty}\n")
    (service,) = load([tmp_path])
    assert service.slos[0].name == "search-availability"


def test_objective_keys_of_other_methods_are_not_supported_not_unknown(tmp_path: Path) -> None:
    """op, value, timeSliceTarget, timeSliceWindow and composite keys: 'not supported: why'."""
    text = SLO.replace(
        "      target: 0.995\n",
        "      target: 0.995\n      op: lte\n      value: 200\n      timeSliceTarget: 0.95\n"
        "      timeSliceWindow: 1m\n      compositeWeight: 1\n",
    )
    errors = _errors(tmp_path, text)
    fields = [e.split(": ")[1] for e in errors]
    assert fields == [
        "spec.objectives[0].op",
        "spec.objectives[0].value",
        "spec.objectives[0].timeSliceTarget",
        "spec.objectives[0].timeSliceWindow",
        "spec.objectives[0].compositeWeight",
    ]
    assert all(": not supported: " in e for e in errors), errors
    assert "unknown key" not in " ".join(errors)


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("RatioTimeslices", "not supported: RatioTimeslices: obskit budgets by Occurrences"),
        ("Occurences", "must be one of Occurrences, Timeslices, RatioTimeslices"),
    ],
)
def test_budgeting_methods(tmp_path: Path, method: str, message: str) -> None:
    """Known but unsupported methods say why; a misspelt one lists the valid methods."""
    errors = _errors(tmp_path, SLO.replace("Occurrences", method))
    assert len(errors) == 1
    assert errors[0].startswith("f.yaml:9: spec.budgetingMethod: " + message)


def test_rolling_months_are_not_supported(tmp_path: Path) -> None:
    """1M is a duration-shorthand the spec allows, but not a fixed number of days."""
    text = SLO.replace(
        "  objectives:\n",
        "  timeWindow:\n    - duration: 1M\n      isRolling: true\n  objectives:\n",
    )
    assert _errors(tmp_path, text) == [
        "f.yaml:29: spec.timeWindow[0].duration: not supported: 1M: months, quarters and years "
        "are not a fixed number of days; write the window in days or weeks (e.g. 28d, 30d, 4w)"
    ]


def test_metric_source_ref_without_inline_query_says_what_is_missing(tmp_path: Path) -> None:
    """A metricSourceRef names a connection; the query itself must be inline."""
    text = SLO.replace(
        "            spec:\n              query: sum(rate(search_requests_total[{{.window}}]))\n",
        "            spec: {}\n",
    )
    assert _errors(tmp_path, text) == [
        "f.yaml:26: spec.indicator.spec.ratioMetric.total.metricSource.spec.query: is required: "
        "obskit reads the Prometheus query inline (metricSourceRef 'prometheus-datasource' "
        "only names a connection, which obskit does not use: the rules run in the Prometheus "
        "that loads them)"
    ]


def test_metric_source_type_comes_from_the_referenced_data_source(tmp_path: Path) -> None:
    """Without `type`, the referenced DataSource's type decides (a Datadog one is refused)."""
    text = SLO.replace("            type: Prometheus\n", "") + textwrap.dedent(
        """\
        ---
        apiVersion: openslo/v1
        kind: DataSource
        metadata: {name: prometheus-datasource}
        spec: {type: Datadog, connectionDetails: {site: datadoghq.eu}}
        """
    )
    errors = _errors(tmp_path, text)
    assert errors[0] == (
        "f.yaml:17: spec.indicator.spec.ratioMetric.good.metricSource.type: not supported: "
        "'Datadog': obskit reads Prometheus queries"
    )
    _write(tmp_path, text.replace("type: Datadog", "type: Prometheus"))
    (service,) = load([tmp_path])
    assert service.slos[0].objective == 99.5


def test_slos_of_one_service_merge_across_files(tmp_path: Path) -> None:
    """OpenSLO SLOs name their service one by one: two files of one service form one service."""
    (tmp_path / "a.yaml").write_text(SLO)
    (tmp_path / "b.yaml").write_text(SLO.replace("name: search-availability", "name: search-fast"))
    (service,) = load([tmp_path])
    assert [slo.name for slo in service.slos] == ["search-availability", "search-fast"]
    (tmp_path / "b.yaml").write_text(SLO)
    with pytest.raises(SpecErrors) as caught:
        load([tmp_path])
    assert [str(e).replace(f"{tmp_path}{os.sep}", "") for e in caught.value.errors] == [
        "b.yaml:1: metadata.name: duplicate SLO name 'search-availability' in service "
        "'search': also defined at a.yaml:1"
    ]


#: Shaped like the specification's examples/budgeting-method files: a thresholdMetric SLO with
#: an empty metricSource spec and an empty alertPolicies, and a RatioTimeslices ratio SLO.
THRESHOLD_EXAMPLE = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: basket-latency
  displayName: Basket latency
spec:
  description: Adding to the basket never takes more than 300ms.
  service: shop
  indicator:
    metadata:
      name: basket-latency
    spec:
      thresholdMetric:
        metricSource:
          type: Prometheus
          spec:
  timeWindow:
    - duration: 2w
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: Fast enough
      op: lt
      value: 300
      target: 0.99
  alertPolicies:
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: home-availability
spec:
  service: shop
  indicator:
    metadata:
      name: home-responses
    spec:
      ratioMetric:
        good:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(home_requests_total{code=~"2.."}[{{.window}}]))
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(home_requests_total[{{.window}}]))
  timeWindow:
    - duration: 2w
      isRolling: true
  budgetingMethod: RatioTimeslices
  objectives:
    - displayName: Good
      op: gt
      timeSliceWindow: 1m
      target: 0.99
"""


def test_specification_example_shapes_are_refused_as_not_supported(tmp_path: Path) -> None:
    """Each refusal of the specification's example shapes says "not supported", none "unknown"."""
    errors = _errors(tmp_path, THRESHOLD_EXAMPLE)
    assert [e.split(": ")[1] for e in errors] == [
        "spec.indicator.spec.thresholdMetric",
        "spec.objectives[0].op",
        "spec.objectives[0].value",
        "spec.budgetingMethod",
        "spec.objectives[0].op",
        "spec.objectives[0].timeSliceWindow",
    ]
    assert all(": not supported: " in e for e in errors), errors
