"""The importable dashboards committed in dashboards/ are a fresh build of slo/ and pass every
check (lint, query parsing, known metric names)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from obskit import conventions as c
from obskit.dashboards._lint import lint
from obskit.dashboards._queries import iter_queries, metric_names, substitute_variables
from obskit.slo import load, rule_groups

from .regenerate import COMMAND, ROOT, committed_files, expected_files
from .test_build import RUNTIME_METRICS, SAMPLE_VALUES


def test_committed_dashboards_match_a_fresh_build() -> None:
    """dashboards/ differs in no byte and no file from render(load(["slo"]))."""
    expected = expected_files()
    committed = committed_files()
    assert sorted(committed) == sorted(expected), f"dashboards/ is stale: run `{COMMAND}`"
    stale = [rel for rel in expected if committed[rel] != expected[rel]]
    assert stale == [], f"dashboards/ is stale ({stale}): run `{COMMAND}`"


def test_committed_dashboards_include_generic_fleet_and_examples() -> None:
    """The generic dashboard, the fleet overview and one per example service are there."""
    names = {rel.rsplit("/", 1)[-1] for rel in committed_files()}
    services = load([str(ROOT / "slo")])
    assert {"obskit-service.json", "obskit-slo-fleet.json", "provider.yaml"} <= names
    assert all(f"slo-{s.name}.json" in names for s in services)


def test_committed_dashboards_pass_lint_and_query_checks() -> None:
    """Every committed dashboard is lint-clean and queries only produced metric names."""
    services = load([str(ROOT / "slo")])
    recorded = {r.record for s in services for g in rule_groups(s) for r in g.rules if r.record}
    known = recorded | RUNTIME_METRICS | {"ALERTS"}
    dashboards = {rel: text for rel, text in committed_files().items() if rel.endswith(".json")}
    assert dashboards
    for rel, text in dashboards.items():
        dashboard = json.loads(text)
        assert lint(dashboard) == [], rel
        for title, expr, _instant in iter_queries(dashboard):
            names = metric_names(substitute_variables(expr, SAMPLE_VALUES))
            assert names <= known, (rel, title, names - known)
    assert c.RULE_ERROR_BUDGET_REMAINING in known


def test_obskit_slo_build_writes_the_committed_dashboards(tmp_path: Path) -> None:
    """The real `obskit slo build slo --out DIR` writes exactly dashboards/ under DIR/dashboards
    (the committed folder is what a user's build produces)."""
    result = subprocess.run(
        [sys.executable, "-m", "obskit", "slo", "build", "slo", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    built = {
        p.relative_to(tmp_path / "dashboards").as_posix(): p.read_text(encoding="utf-8")
        for p in sorted((tmp_path / "dashboards").rglob("*"))
        if p.is_file()
    }
    assert built == committed_files()
