"""Sloth and OpenSLO specs: supported constructs load, unsupported ones are located errors."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from obskit.slo import SpecErrors, load

OPENSLO_HEAD = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: reads
spec:
  service: store
  timeWindow:
    - duration: 30d
      isRolling: true
  objectives:
    - target: 0.999
"""

INDICATOR = """\
  indicator:
    metadata: {name: reads-sli}
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource: {type: Prometheus, spec: {query: 'reads_total{result="error"}'}}
        total:
          metricSource: {type: Prometheus, spec: {query: reads_total}}
"""


def _errors(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "f.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(SpecErrors) as caught:
        load([tmp_path])
    return [str(e).replace(f"{tmp_path}{os.sep}", "") for e in caught.value.errors]


def test_sloth_errors_are_located(tmp_path: Path) -> None:
    """Sloth: typos, plugins, missing placeholders and bad objectives, each with its line."""
    text = """\
    version: "prometheus/v1"
    service: s
    slos:
      - name: a
        objective: 100
        sli:
          plugin:
            id: sloth-common/availability
      - name: b
        objective: 99
        sli:
          events:
            error_query: sum(rate(x[5m]))
            total_query: sum(rate(x[{{.window}}]))
        alerting:
          name: B
          page_alert:
            disabled: true
    """
    assert _errors(tmp_path, text) == [
        "f.yaml:5: slos[0].objective: must be below 100: a 100 % objective leaves no error budget",
        "f.yaml:7: slos[0].sli.plugin: not supported: Sloth SLI plugin "
        "'sloth-common/availability': obskit runs no SLI plugins; write the queries the plugin "
        "generates as events (error_query, total_query) or raw (error_ratio_query)",
        "f.yaml:13: slos[1].sli.events.error_query: query must contain the window placeholder "
        "{{.window}} (e.g. rate(x[{{.window}}])), so obskit can evaluate it over every alert "
        "window",
        "f.yaml:18: slos[1].alerting.page_alert.disabled: unknown key; did you mean 'disable'?",
    ]


def test_unsupported_versions_are_errors(tmp_path: Path) -> None:
    """An unknown Sloth version or apiVersion is an error, not a silent skip."""
    assert _errors(tmp_path, 'version: "prometheus/v2"\nservice: a\nslos: []\n') == [
        "f.yaml:1: version: unsupported version 'prometheus/v2': Sloth specs use prometheus/v1"
    ]


def test_sloth_crd_is_read_with_its_camel_case_fields(tmp_path: Path) -> None:
    """The PrometheusServiceLevel CRD's spec is read with Sloth's Kubernetes (camelCase) names."""
    (tmp_path / "crd.yaml").write_text(
        textwrap.dedent(
            """\
            apiVersion: sloth.slok.dev/v1
            kind: PrometheusServiceLevel
            metadata:
              name: crd
              namespace: monitoring
            spec:
              service: crd-svc
              slos:
                - name: a
                  objective: 99.9
                  sli:
                    raw:
                      errorRatioQuery: sum(rate(e[{{ .window }}])) / sum(rate(t[{{.window}}]))
                  alerting:
                    name: CrdA
                    ticketAlert:
                      disable: true
            """
        )
    )
    (service,) = load([tmp_path])
    assert service.name == "crd-svc"
    assert service.slos[0].sli.error_ratio_query == (
        "sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))"
    )
    assert service.slos[0].alerting.name == "CrdA"
    assert (service.slos[0].alerting.page, service.slos[0].alerting.ticket) == (True, False)


def test_openslo_unsupported_constructs_are_errors(tmp_path: Path) -> None:
    """Calendar windows, several objectives, Timeslices, alertPolicies, thresholdMetric."""
    text = """\
    apiVersion: openslo/v1
    kind: SLO
    metadata:
      name: reads
    spec:
      service: store
      budgetingMethod: Timeslices
      alertPolicies: [fast-burn]
      timeWindow:
        - duration: 1M
          calendar: {startTime: "2024-01-01 00:00:00", timeZone: UTC}
      objectives:
        - target: 0.99
        - target: 0.999
      indicator:
        metadata: {name: x}
        spec:
          thresholdMetric:
            metricSource: {spec: {query: x}}
    """
    assert _errors(tmp_path, text) == [
        "f.yaml:7: spec.budgetingMethod: not supported: Timeslices: obskit budgets by "
        "Occurrences (errors ÷ events); time-slice budgeting is not computed",
        "f.yaml:8: spec.alertPolicies: not supported: obskit generates its own multi-window "
        "burn-rate alerts (page and ticket, see docs/slo-rules.md); leave alertPolicies empty "
        "or remove it",
        "f.yaml:11: spec.timeWindow[0].calendar: not supported: calendar-aligned windows "
        "restart the budget on a date; obskit's budget rolls over the last N days (use "
        "duration: 30d, isRolling: true)",
        "f.yaml:12: spec.objectives: not supported: several objectives in one SLO (obskit "
        "alerts on one error budget per SLO); write one SLO document per objective",
        "f.yaml:18: spec.indicator.spec.thresholdMetric: not supported: a thresholdMetric SLI "
        "compares one metric with a value in time slices; obskit builds event-ratio SLOs: use "
        "a ratioMetric (good or bad, and total)",
    ]


def test_openslo_query_errors(tmp_path: Path) -> None:
    """Without counter: true a plain selector needs {{.window}}; targets are ratios."""
    text = OPENSLO_HEAD.replace("0.999", "99.9") + INDICATOR.replace(
        "counter: true", "counter: false"
    )
    assert _errors(tmp_path, text) == [
        "f.yaml:11: spec.objectives[0].target: must be a ratio strictly between 0 and 1 "
        "(e.g. 0.999)",
        "f.yaml:18: spec.indicator.spec.ratioMetric.bad.metricSource.spec.query: needs the window "
        "placeholder {{.window}}, or counter: true with a plain counter selector such as "
        'requests_total{job="api"}',
        "f.yaml:20: spec.indicator.spec.ratioMetric.total.metricSource.spec.query: needs the "
        "window placeholder {{.window}}, or counter: true with a plain counter selector such as "
        'requests_total{job="api"}',
    ]


def test_openslo_unknown_kind_and_version(tmp_path: Path) -> None:
    """Kinds obskit does not read and other OpenSLO versions are errors."""
    text = "apiVersion: openslo/v1\nkind: Budget\n---\napiVersion: openslo/v2alpha\nkind: SLO\n"
    assert _errors(tmp_path, text) == [
        "f.yaml:2: kind: unsupported OpenSLO kind 'Budget': use one of SLO, SLI, Service, "
        "DataSource, AlertPolicy, AlertCondition, AlertNotificationTarget",
        "f.yaml:4: apiVersion: unsupported apiVersion 'openslo/v2alpha': obskit reads "
        "openslo/v1, sloth.slok.dev/v1 and pyrra.dev/v1alpha1",
    ]


def test_openslo_indicator_ref_resolves_across_files(tmp_path: Path) -> None:
    """indicatorRef finds a kind: SLI document in another file of the same build."""
    (tmp_path / "slo.yaml").write_text(OPENSLO_HEAD + "  indicatorRef: reads-sli\n")
    sli = "apiVersion: openslo/v1\nkind: SLI\n" + textwrap.dedent(
        INDICATOR.replace("  indicator:\n", "")
    )
    (tmp_path / "sli.yaml").write_text(sli)
    (service,) = load([tmp_path])
    assert service.slos[0].sli.error_query == 'sum(rate(reads_total{result="error"}[{{.window}}]))'
    assert service.slos[0].objective == 99.9


def test_openslo_slos_of_one_service_in_one_file_merge(tmp_path: Path) -> None:
    """Two OpenSLO SLO documents for one service in one file form one service."""
    second = (OPENSLO_HEAD + INDICATOR).replace("name: reads\n", "name: writes\n")
    (tmp_path / "two.yaml").write_text(OPENSLO_HEAD + INDICATOR + "---\n" + second)
    (service,) = load([tmp_path])
    assert [slo.name for slo in service.slos] == ["reads", "writes"]


def test_openslo_duplicate_slo_in_one_file(tmp_path: Path) -> None:
    """The same OpenSLO SLO name twice in one service is an error naming the first."""
    doc = OPENSLO_HEAD + INDICATOR
    assert _errors(tmp_path, doc + "---\n" + doc) == [
        "f.yaml:22: metadata.name: duplicate SLO name 'reads' in service 'store': also defined "
        "at f.yaml:1"
    ]


def test_service_in_native_and_openslo_files_is_a_duplicate(tmp_path: Path) -> None:
    """The same service from a native file and an OpenSLO file is an error naming both."""
    (tmp_path / "a.yaml").write_text(
        "service: store\nslos:\n  - name: x\n    objective: 99\n    sli: {availability: {}}\n"
    )
    (tmp_path / "b.yaml").write_text(OPENSLO_HEAD + INDICATOR)
    with pytest.raises(SpecErrors) as caught:
        load([tmp_path])
    assert [str(e).replace(f"{tmp_path}{os.sep}", "") for e in caught.value.errors] == [
        "b.yaml:6: spec.service: 'store' is already defined in a.yaml:1: keep each service "
        "in one format (that one is native)"
    ]
