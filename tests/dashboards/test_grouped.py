"""Dashboards of a grouped SLO (native ``group_by``, Pyrra ``grouping``) on a real Prometheus:
every query runs and returns data; the stat figures are one series (the worst group's), the
per-group graphs one series per group, labelled by it, and the fleet table one row per SLO."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from examples.stack import Prometheus
from tests.conftest import free_port

from obskit import conventions as c
from obskit.dashboards._queries import iter_queries, substitute_variables

from .test_prometheus import HTTP_SERIES, MAY_BE_EMPTY, VALUES
from .test_prometheus import target as target  # the exposition server fixture

SPEC = """\
service: checkout
slos:
  - name: availability
    objective: 99
    sli:
      availability: {group_by: [http_route]}
  - name: latency
    objective: 95
    sli:
      latency: {threshold: 0.5, group_by: [http_route, http_request_method]}
"""
ROUTES = {route for _method, route, _status, _fast, _slow in HTTP_SERIES}


def _panels(dashboard: dict[str, Any], title: str) -> list[dict[str, Any]]:
    """Every panel titled ``title`` (one per SLO row, also inside collapsed rows)."""
    out = []
    for panel in dashboard["panels"]:
        out += [p for p in [panel, *panel.get("panels", [])] if p.get("title") == title]
    return out


def test_grouped_slo_dashboards_run_on_prometheus(
    prometheus_bin: str, tmp_path: Path, target: str
) -> None:
    """Stats: one series each (worst group); "SLI vs objective" and "Error budget consumed": one
    series per route, legend `{{http_route}}`; burn rate: one per window; fleet: one row per
    SLO.  Every other query returns data too."""
    (tmp_path / "slo").mkdir()
    (tmp_path / "slo" / "checkout.yaml").write_text(SPEC)
    out = tmp_path / "build"
    build = subprocess.run(
        [sys.executable, "-m", "obskit", "slo", "build", str(tmp_path / "slo"), "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    dashboards = {
        p.name: json.loads(p.read_text()) for p in sorted((out / "dashboards").rglob("*.json"))
    }
    service = next(d for name, d in dashboards.items() if "checkout" in name)
    sli_panels = _panels(service, "SLI vs objective")
    assert [p["targets"][0]["legendFormat"] for p in sli_panels] == [
        f"{{{{{c.LABEL_ROUTE}}}}}",
        f"{{{{{c.LABEL_METHOD}}}}} {{{{{c.LABEL_ROUTE}}}}}",
    ]
    assert _panels(service, "SLI over 30d (worst http_route)")

    # (expr, how many series it must return; 0 = at least one)
    expected: dict[str, int] = {}
    for dashboard in dashboards.values():
        for title, expr, _instant in iter_queries(dashboard):
            if title.endswith(MAY_BE_EMPTY):
                continue
            want = 0
            if dashboard is service and title.startswith(("SLI over", "Error budget remaining")):
                want = 1
            if dashboard is service and title.startswith("Burn rate (1h)"):
                want = 1
            if dashboard is service and title.startswith("Error budget consumed"):
                want = -1  # one per group: checked below, per SLO
            expected[substitute_variables(expr, VALUES)] = want
    rule_files = sorted((out / "rules").glob("*.yaml"))
    (tmp_path / "prometheus").mkdir()
    prometheus = Prometheus(
        free_port(), {"checkout": [target]}, rule_files, binary=prometheus_bin,
        workdir=tmp_path / "prometheus",
    )  # fmt: skip
    with prometheus:
        deadline = time.monotonic() + 60
        results: dict[str, list[dict[str, Any]]] = {}
        while time.monotonic() < deadline:
            results = {q: prometheus.query(q) for q in expected}
            if all(results.values()):
                break
            time.sleep(0.5)  # polling interval, bounded by the deadline
    empty = sorted(q for q, r in results.items() if not r)
    assert empty == [], "\n".join(empty)
    for query, want in expected.items():
        if want == 1:
            assert len(results[query]) == 1, query
        if want == -1:
            groups = {r["metric"].get(c.LABEL_ROUTE) for r in results[query]}
            assert groups == ROUTES, query
    for panel in sli_panels:
        sli_query = substitute_variables(panel["targets"][0]["expr"], VALUES)
        assert {r["metric"][c.LABEL_ROUTE] for r in results[sli_query]} == ROUTES
