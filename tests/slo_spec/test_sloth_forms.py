"""Sloth specs read as Sloth reads them: both forms' spellings, plugins, label values, files.

Fixtures follow Sloth's own examples (``examples/getting-started.yml``,
``examples/k8s-getting-started.yml``, ``examples/slo-plugin-getting-started.yml`` and its
Kubernetes twin): the plain ``prometheus/v1`` form spells fields in snake_case
(``pkg/prometheus/api/v1``), the ``PrometheusServiceLevel`` CRD in camelCase
(``pkg/kubernetes/api/sloth/v1/types.go``).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from obskit.slo import DashboardOptions, SpecErrors, build, load

#: Sloth's k8s-getting-started example, in our own words (service and queries renamed).
CRD = """\
apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata:
  name: sloth-slo-cart
  namespace: monitoring
spec:
  service: "cart"
  labels:
    owner: "shop-team"
    repo: "shop/cart"
    tier: "2"
  slos:
    - name: "requests-availability"
      objective: 99.9
      description: "Cart requests answered without a 5xx or 429."
      sli:
        events:
          errorQuery: sum(rate(http_requests_total{job="cart",code=~"(5..|429)"}[{{.window}}]))
          totalQuery: sum(rate(http_requests_total{job="cart"}[{{.window}}]))
      alerting:
        name: CartHighErrorRate
        labels:
          category: "availability"
        annotations:
          summary: "High error rate on 'cart' responses"
        pageAlert:
          labels:
            severity: pageteam
            routing_key: shop-team
        ticketAlert:
          labels:
            severity: "slack"
            slack_channel: "#alerts-shop"
"""

#: Sloth's getting-started example (plain form), in our own words.
PLAIN = """\
version: "prometheus/v1"
service: "cart"
labels:
  owner: "shop-team"
slos:
  - name: "requests-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="cart",code=~"(5..|429)"}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="cart"}[{{.window}}]))
    alerting:
      name: CartHighErrorRate
      page_alert:
        labels:
          severity: pageteam
      ticket_alert:
        labels:
          severity: "slack"
"""


def _write(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")


def _errors(tmp_path: Path, files: dict[str, str]) -> list[str]:
    _write(tmp_path, files)
    with pytest.raises(SpecErrors) as caught:
        load([tmp_path])
    return [str(e).replace(f"{tmp_path}{os.sep}", "") for e in caught.value.errors]


def test_crd_reads_every_camel_case_field(tmp_path: Path) -> None:
    """errorQuery/totalQuery, pageAlert/ticketAlert labels, annotations and service labels."""
    _write(tmp_path, {"crd.yaml": CRD})
    (service,) = load([tmp_path])
    (slo,) = service.slos
    assert slo.sli.error_query == (
        'sum(rate(http_requests_total{job="cart",code=~"(5..|429)"}[{{.window}}]))'
    )
    assert slo.sli.total_query == 'sum(rate(http_requests_total{job="cart"}[{{.window}}]))'
    assert dict(slo.labels) == {"owner": "shop-team", "repo": "shop/cart", "tier": "2"}
    alerting = slo.alerting
    assert alerting.name == "CartHighErrorRate"
    assert dict(alerting.page_labels) == {"severity": "pageteam", "routing_key": "shop-team"}
    assert dict(alerting.ticket_labels) == {"severity": "slack", "slack_channel": "#alerts-shop"}
    assert dict(alerting.annotations) == {"summary": "High error rate on 'cart' responses"}
    assert alerting.shape == "sloth"


def test_crd_ignores_snake_case_like_sloth(tmp_path: Path) -> None:
    """In a CRD, page_alert has no effect and error_query alone is reported missing, with why."""
    text = CRD.replace("pageAlert:", "page_alert:").replace("errorQuery:", "error_query:")
    assert _errors(tmp_path, {"crd.yaml": text}) == [
        "crd.yaml:17: spec.slos[0].sli.events.errorQuery: is required ('error_query' is the "
        "other Sloth form's spelling, which Sloth ignores in a PrometheusServiceLevel; write "
        "'errorQuery')"
    ]
    text = CRD.replace("pageAlert:", "page_alert:")
    _write(tmp_path, {"crd.yaml": text})
    (service,) = load([tmp_path])
    assert dict(service.slos[0].alerting.page_labels) == {}
    assert dict(service.slos[0].alerting.ticket_labels)["severity"] == "slack"


def test_plain_ignores_camel_case_like_sloth(tmp_path: Path) -> None:
    """In a plain spec, pageAlert has no effect (Sloth's YAML decoder skips it); typos fail."""
    text = PLAIN.replace("page_alert:", "pageAlert:")
    _write(tmp_path, {"plain.yaml": text})
    (service,) = load([tmp_path])
    assert dict(service.slos[0].alerting.page_labels) == {}
    typo = PLAIN.replace("ticket_alert:", "tiket_alert:")
    assert _errors(tmp_path, {"plain.yaml": typo}) == [
        "plain.yaml:17: slos[0].alerting.tiket_alert: unknown key; did you mean 'ticket_alert'?"
    ]


def test_slo_plugins_are_refused_by_id(tmp_path: Path) -> None:
    """slo_plugins / plugins chains (Sloth's slo-plugin example): one error per plugin id."""
    text = PLAIN.replace(
        "slos:\n",
        'slo_plugins:\n  chain:\n    - id: "sloth.dev/core/debug/v1"\n'
        '      priority: 9999999\n      config: {msg: "Plugin 99"}\nslos:\n',
    ).replace(
        "    objective: 99.9\n",
        "    objective: 99.9\n    plugins:\n      chain:\n"
        '        - id: "sloth.dev/contrib/denominator_corrected_rules/v1"\n',
    )
    errors = _errors(tmp_path, {"p.yaml": text})
    assert errors == [
        "p.yaml:7: slo_plugins.chain[0].id: not supported: Sloth SLO plugin "
        "'sloth.dev/core/debug/v1': obskit runs no SLO plugins and generates its rules itself; "
        "remove it (it only logs while Sloth generates) (see docs/coming-from-sloth.md)",
        "p.yaml:15: slos[0].plugins.chain[0].id: not supported: Sloth SLO plugin "
        "'sloth.dev/contrib/denominator_corrected_rules/v1': obskit runs no SLO plugins and "
        "generates its rules itself; remove it: obskit's period ratio is already weighted by "
        "traffic (see docs/coming-from-sloth.md)",
    ]


def test_crd_slo_plugins_are_refused_by_id(tmp_path: Path) -> None:
    """sloPlugins in the CRD, as in Sloth's slo-plugin-k8s-getting-started example."""
    text = CRD.replace(
        "  slos:\n",
        '  sloPlugins:\n    chain:\n      - id: "sloth.dev/core/debug/v1"\n  slos:\n',
    )
    assert _errors(tmp_path, {"crd.yaml": text}) == [
        "crd.yaml:14: spec.sloPlugins.chain[0].id: not supported: Sloth SLO plugin "
        "'sloth.dev/core/debug/v1': obskit runs no SLO plugins and generates its rules itself; "
        "remove it (it only logs while Sloth generates) (see docs/coming-from-sloth.md)"
    ]


def test_plain_label_values_are_stringified_as_written(tmp_path: Path) -> None:
    """Booleans and numbers become their source text, as Go's yaml decoder does."""
    text = PLAIN.replace(
        '  owner: "shop-team"\n',
        '  owner: "shop-team"\n  generated: true\n  tier: 2\n  weight: 1.50\n',
    ).replace("      page_alert:\n", "      labels:\n        enabled: yes\n      page_alert:\n")
    _write(tmp_path, {"plain.yaml": text})
    (service,) = load([tmp_path])
    slo = service.slos[0]
    assert dict(slo.labels) == {
        "owner": "shop-team",
        "generated": "true",
        "tier": "2",
        "weight": "1.50",
    }
    assert dict(slo.alerting.labels) == {"enabled": "yes"}


def test_crd_label_booleans_are_refused_like_kubernetes(tmp_path: Path) -> None:
    """A CRD is JSON-decoded into map[string]string: Sloth refuses true there, so does obskit."""
    text = CRD.replace('    tier: "2"\n', "    tier: 2\n    generated: true\n")
    assert _errors(tmp_path, {"crd.yaml": text}) == [
        "crd.yaml:11: spec.labels.tier: must be a string: a PrometheusServiceLevel is decoded "
        'into map[string]string, so Sloth and the Kubernetes API refuse 2; quote it ("2")',
        "crd.yaml:12: spec.labels.generated: must be a string: a PrometheusServiceLevel is "
        "decoded into map[string]string, so Sloth and the Kubernetes API refuse true; quote it "
        '("true")',
    ]


def test_one_service_over_several_files_builds(tmp_path: Path) -> None:
    """Two Sloth files (one plain, one CRD) of one service with distinct SLO names: one service."""
    second = CRD.replace('"requests-availability"', '"checkout-availability"')
    _write(tmp_path, {"a/plain.yaml": PLAIN, "b/crd.yaml": second})
    (service,) = load([tmp_path])
    assert [slo.name for slo in service.slos] == [
        "requests-availability",
        "checkout-availability",
    ]
    files = build([service], dashboards=DashboardOptions(enabled=False))
    rules = files["rules/cart.yaml"]
    assert rules.count("- name: obskit-cart-") == 2
    assert "a/plain.yaml" in rules.splitlines()[0]
    assert "b/crd.yaml" in rules.splitlines()[0]


def test_slo_name_collision_across_files_names_both(tmp_path: Path) -> None:
    """The same SLO name in two files of one service: the error names both file:line."""
    assert _errors(tmp_path, {"a.yaml": PLAIN, "b.yaml": CRD}) == [
        "b.yaml:13: spec.slos[0].name: duplicate SLO name 'requests-availability' in service "
        "'cart': also defined at a.yaml:6"
    ]


def test_info_labels_and_interval_are_noted_in_the_header(tmp_path: Path) -> None:
    """Plain-form keys obskit does not use build, and the rule file header says so."""
    text = PLAIN.replace(
        "    objective: 99.9\n",
        "    objective: 99.9\n    infoLabels:\n      team: shop\n    interval:\n      all: 2m\n",
    )
    _write(tmp_path, {"plain.yaml": text})
    files = build(load([tmp_path]), dashboards=DashboardOptions(enabled=False))
    head = files["rules/cart.yaml"].split("groups:")[0]
    assert "# Note: SLO cart/requests-availability: Sloth's infoLabels is ignored" in head
    assert "# Note: SLO cart/requests-availability: Sloth's interval is ignored" in head


def test_sloth_alert_windows_kind_is_not_supported(tmp_path: Path) -> None:
    """Sloth's AlertWindows objects (examples/windows/) are named and refused, not misread."""
    text = (
        "apiVersion: sloth.slok.dev/v1\nkind: AlertWindows\nspec:\n  sloPeriod: 7d\n"
        "  page:\n    quick: {errorBudgetPercent: 8, shortWindow: 5m, longWindow: 1h}\n"
    )
    (error,) = _errors(tmp_path, {"windows.yaml": text})
    assert error.startswith("windows.yaml:2: kind: not supported: Sloth's AlertWindows")


def test_both_alerts_disabled_builds_recordings_only(tmp_path: Path) -> None:
    """Sloth's no-alerts shape: page and ticket disabled, multi-line queries; no alert rule."""
    text = """\
    version: "prometheus/v1"
    service: "tills"
    labels:
      owner: "retail"
    slos:
      - name: "http-availability"
        objective: 99.99
        sli:
          events:
            error_query: |
              sum(
                rate(http_requests_total{job="tills", code=~"(5..|429)"}[{{.window}}])
              )
            total_query: |
              sum(
                rate(http_requests_total{job="tills"}[{{.window}}])
              )
        alerting:
          page_alert:
            disable: true
          ticket_alert:
            disable: true
    """
    _write(tmp_path, {"tills.yaml": text})
    rules = build(load([tmp_path]), dashboards=DashboardOptions(enabled=False))["rules/tills.yaml"]
    assert "- alert:" not in rules
    assert "record: obskit_slo:error_budget_remaining:ratio" in rules
