"""What `obskit slo build` writes under dashboards/: layout, provisioning, ConfigMaps, checks."""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from obskit import conventions as c
from obskit.dashboards._build import (
    DashboardOptions,
    add_build_arguments,
    options_from_args,
    render,
)
from obskit.dashboards._ids import service_uid
from obskit.dashboards._lint import lint
from obskit.dashboards._queries import iter_queries, metric_names, substitute_variables
from obskit.slo import Service, rule_groups

from .conftest import make_service, make_slo

SAMPLE_VALUES = {"job": "checkout", "route": ["/cart/{id}", "/checkout"]}
RUNTIME_METRICS = {
    c.HTTP_DURATION_BUCKET,
    c.HTTP_DURATION_COUNT,
    c.HTTP_DURATION_SUM,
    c.ACTIVE_REQUESTS,
    c.TARGET_INFO,
    c.OPERATION_DURATION_BUCKET,
    c.OPERATION_DURATION_COUNT,
}


def _assert_sorted(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _value in pairs]
    assert keys == sorted(keys)
    return dict(pairs)


def _dashboards(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {path: json.loads(text) for path, text in files.items() if path.endswith(".json")}


def test_layout_of_a_build(services: list[Service]) -> None:
    """One dashboard per service, the fleet overview, the generic one and the provider."""
    files = render(services, DashboardOptions())
    assert sorted(files) == [
        "obskit/obskit-service.json",
        "obskit/obskit-slo-fleet.json",
        "obskit/slo-checkout.json",
        "obskit/slo-legacy-batch.json",
        "obskit/slo-payments.json",
        "provider.yaml",
    ]


def test_every_dashboard_passes_lint_and_rebuilds_byte_identical(services: list[Service]) -> None:
    """All generated dashboards are lint-clean, and a second render is byte-identical."""
    files = render(services, DashboardOptions(configmaps=True))
    assert files == render(list(reversed(services)), DashboardOptions(configmaps=True))
    for path, dashboard in _dashboards(files).items():
        assert lint(dashboard) == [], path
        assert files[path].endswith("}\n")
        assert files[path].startswith('{\n  "annotations": ')
        json.loads(files[path], object_pairs_hook=_assert_sorted)


def test_every_query_parses_and_reads_only_known_metrics(services: list[Service]) -> None:
    """Each query parses after Grafana's substitution and selects only metrics that the
    generated recording rules, the runtime or Prometheus (ALERTS) produce."""
    recorded = {
        rule.record
        for service in services
        for group in rule_groups(service)
        for rule in group.rules
        if rule.record
    }
    known = recorded | RUNTIME_METRICS | {"ALERTS"}
    seen: set[str] = set()
    for path, dashboard in _dashboards(render(services, DashboardOptions())).items():
        for title, expr, _instant in iter_queries(dashboard):
            names = metric_names(substitute_variables(expr, SAMPLE_VALUES))
            assert names <= known, (path, title, names - known)
            seen |= names
    # The dashboards do use both halves: recorded SLO series and raw runtime series.
    assert c.RULE_BURN_RATE in seen
    assert c.HTTP_DURATION_BUCKET in seen


def test_folder_follows_the_team_label() -> None:
    """A service labelled team=x lands in folder x; odd label values are made path-safe."""
    svc = Service(
        name="api",
        slos=(make_slo("api", "a", 99.0),),
        source=make_service("api").source,
        selector=(("job", "api"),),
        labels={"team": "../Core Team"},
    )
    files = render([svc], DashboardOptions())
    assert "Core-Team/slo-api.json" in files


def test_provider_yaml_points_at_the_folder(services: list[Service]) -> None:
    """The provider reads the configured path with folders from the file structure."""
    files = render(services, DashboardOptions(provisioning_path="/srv/grafana/obskit"))
    provider = yaml.safe_load(files["provider.yaml"])
    assert provider["apiVersion"] == 1
    (entry,) = provider["providers"]
    assert entry["type"] == "file"
    assert entry["options"] == {"path": "/srv/grafana/obskit", "foldersFromFilesStructure": True}


def test_configmaps_hold_each_dashboard_for_the_sidecar(services: list[Service]) -> None:
    """With the flag, one ConfigMap per dashboard, labelled for the sidecar, holding its JSON."""
    files = render(services, DashboardOptions(configmaps=True, namespace="monitoring"))
    maps = {p: yaml.safe_load(t) for p, t in files.items() if p.startswith("configmaps/")}
    assert len(maps) == len(_dashboards(files)) == 5
    checkout = maps["configmaps/slo-checkout.yaml"]
    assert checkout["kind"] == "ConfigMap"
    assert checkout["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert checkout["metadata"]["namespace"] == "monitoring"
    assert checkout["metadata"]["name"] == "grafana-dashboard-slo-checkout"
    held = checkout["data"]["slo-checkout.json"]
    assert held.count("\n") == 1  # compact: one line
    assert json.loads(held) == json.loads(files["obskit/slo-checkout.json"])
    assert "configmaps/slo-checkout.yaml" not in render(services, DashboardOptions())


def test_disabled_writes_nothing(services: list[Service]) -> None:
    """--no-dashboards renders no file."""
    assert render(services, DashboardOptions(enabled=False)) == {}


def test_build_flags_round_trip() -> None:
    """The flags added to `obskit slo build` map onto DashboardOptions."""
    parser = argparse.ArgumentParser()
    add_build_arguments(parser)
    assert options_from_args(parser.parse_args([])) == DashboardOptions()
    args = parser.parse_args(
        [
            "--dashboards-configmaps",
            "--dashboards-path",
            "/x",
            "--dashboards-folder-label",
            "squad",
            "--dashboards-namespace",
            "mon",
        ]
    )
    assert options_from_args(args) == DashboardOptions(
        configmaps=True, provisioning_path="/x", folder_label="squad", namespace="mon"
    )
    assert options_from_args(parser.parse_args(["--no-dashboards"])).enabled is False


def test_fleet_table_links_rows_to_service_dashboards() -> None:
    """The fleet table merges instant queries, sorts worst first, and links by uid label;
    a hashed uid is attached by an exact-match label_replace."""
    long_name = "a-very-long-service-name-that-does-not-fit-in-a-uid"
    services = [
        make_service("checkout", make_slo("checkout", "a", 99.9)),
        make_service(long_name, make_slo(long_name, "a", 99.0)),
    ]
    fleet = json.loads(render(services, DashboardOptions())["obskit/obskit-slo-fleet.json"])
    table = next(p for p in fleet["panels"] if p["type"] == "table")
    assert all(t["instant"] and t["format"] == "table" for t in table["targets"])
    ids = [t["id"] for t in table["transformations"]]
    assert ids == ["merge", "organize", "sortBy"]
    assert table["transformations"][2]["options"]["sort"] == [
        {"desc": False, "field": "Budget remaining"}
    ]
    link = table["fieldConfig"]["defaults"]["links"][0]["url"]
    assert link.startswith("/d/${__data.fields.obskit_dashboard_uid}")
    first = table["targets"][0]["expr"]
    assert f'"{service_uid(long_name)}"' in first
    assert '"slo-$1"' in first
    assert 'obskit_service=~"a-very-long-service-name-that-does-not-fit-in-a-uid|checkout"' in first


def test_generic_dashboard_needs_no_spec() -> None:
    """A build without services still writes the generic dashboard, chosen by `job`."""
    files = render([], DashboardOptions())
    assert sorted(files) == ["obskit/obskit-service.json", "provider.yaml"]
    generic = json.loads(files["obskit/obskit-service.json"])
    names = [v["name"] for v in generic["templating"]["list"]]
    assert names == ["datasource", "job", "route"]
    exprs = [expr for _t, expr, _i in iter_queries(generic)]
    assert all('job="$job"' in expr for expr in exprs)
    assert any(c.TARGET_INFO in expr for expr in exprs)
    assert any(c.ACTIVE_REQUESTS in expr for expr in exprs)
