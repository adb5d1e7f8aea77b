"""Dashboard queries checked by the real Prometheus tooling (promtool), not only by our parser."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from obskit.dashboards._build import DashboardOptions, render
from obskit.dashboards._fleet import fleet_queries
from obskit.dashboards._ids import service_uid
from obskit.dashboards._queries import iter_queries, substitute_variables
from obskit.slo import Service

from .conftest import make_service, make_slo
from .regenerate import committed_files
from .test_build import SAMPLE_VALUES


def test_promtool_accepts_every_query(
    promtool: str, tmp_path: Path, services: list[Service]
) -> None:
    """Every query of every generated and committed dashboard, with Grafana's variables filled
    in, is accepted by Prometheus's own parser (as recording rules in `promtool check rules`)."""
    texts = list(render(services, DashboardOptions()).values()) + list(committed_files().values())
    exprs = sorted(
        {
            substitute_variables(expr, SAMPLE_VALUES)
            for text in texts
            if text.startswith("{")
            for _title, expr, _instant in iter_queries(json.loads(text))
        }
    )
    assert len(exprs) > 30
    rules = [{"record": f"dashboard_query_{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_fleet_rows_carry_the_dashboard_uid_in_prometheus(promtool: str, tmp_path: Path) -> None:
    """Evaluated by promtool, the fleet table's query labels each SLO with its service's
    dashboard uid (plain and hashed) and leaves out services outside the build."""
    long_name = "a-very-long-service-name-that-does-not-fit-in-a-uid"
    build = [
        make_service("checkout", make_slo("checkout", "avail", 99.9)),
        make_service(long_name, make_slo(long_name, "avail", 99.0)),
    ]
    objective_query = fleet_queries(build)[0]

    def series(service: str) -> str:
        return (
            f'obskit_slo:objective:ratio{{obskit_service="{service}", obskit_slo="avail", '
            f'obskit_slo_id="{service}-avail", team="x"}}'
        )

    def sample(service: str) -> str:
        return (
            f'{{obskit_service="{service}", obskit_slo="avail", obskit_slo_id="{service}-avail", '
            f'obskit_dashboard_uid="{service_uid(service)}"}}'
        )

    (tmp_path / "empty.yaml").write_text("groups: []\n")
    test = {
        "rule_files": ["empty.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": series("checkout"), "values": "0.999x5"},
                    {"series": series(long_name), "values": "0.99x5"},
                    {"series": series("not-in-this-build"), "values": "0.9x5"},
                ],
                "promql_expr_test": [
                    {
                        "expr": objective_query,
                        "eval_time": "2m",
                        "exp_samples": [
                            {"labels": sample("checkout"), "value": 0.999},
                            {"labels": sample(long_name), "value": 0.99},
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "fleet_test.yaml"
    path.write_text(yaml.safe_dump(test))
    result = subprocess.run(
        [promtool, "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert service_uid(long_name) != f"slo-{long_name}"
