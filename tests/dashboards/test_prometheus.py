"""Every dashboard query answers on a real Prometheus running the generated rules.

A small exposition server on 127.0.0.1 serves the runtime's metric names (the HTTP histogram,
active requests, ``target_info``, the operation histogram) plus the raw-query example's counter,
growing on every scrape; Prometheus scrapes it every second as jobs ``checkout`` and ``search``
and evaluates the rules ``obskit slo build slo`` writes.  The end-to-end suite repeats this with
the real obskit runtime; this test pins the dashboards against the rules alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from examples.stack import Prometheus, scrape_target
from tests.conftest import free_port

from obskit import conventions as c
from obskit.dashboards._queries import iter_queries, iter_variable_queries, substitute_variables

from .regenerate import ROOT

# (method, route, status, observations per scrape at 0.1 s, at 1 s)
HTTP_SERIES = (
    ("POST", "/checkout", "200", 9, 1),
    ("POST", "/checkout", "500", 1, 0),
    ("GET", "/cart/{id}", "200", 5, 0),
)
OPERATIONS = (("charge", c.OUTCOME_OK, 4), ("charge", c.OUTCOME_ERROR, 1))
VALUES = {"job": "checkout", "route": ["/checkout", "/cart/{id}"]}
#: Queries allowed to be empty here: no SLO alert *fires* within seconds (every tier has a
#: `for:`), so the annotation query is also run for pending alerts, which must show up: the
#: injected error ratios burn both examples' budgets above a tier threshold.
MAY_BE_EMPTY = "annotation: SLO alerts firing"


def _histogram(name: str, labels: str, fast: int, slow: int) -> list[str]:
    lines = []
    for le in c.buckets():
        count = (fast if le >= 0.1 else 0) + (slow if le >= 1.0 else 0)
        lines.append(f'{name}_bucket{{{labels},le="{le}"}} {count}')
    lines += [
        f'{name}_bucket{{{labels},le="+Inf"}} {fast + slow}',
        f"{name}_sum{{{labels}}} {fast * 0.1 + slow * 1.0}",
        f"{name}_count{{{labels}}} {fast + slow}",
    ]
    return lines


def exposition(scrapes: int) -> str:
    """The text exposition after ``scrapes`` scrapes (every counter grows with each one)."""
    n = scrapes
    lines = [f"# TYPE {c.HTTP_DURATION} histogram"]
    for method, route, status, fast, slow in HTTP_SERIES:
        labels = (
            f'{c.LABEL_METHOD}="{method}",{c.LABEL_ROUTE}="{route}",{c.LABEL_STATUS}="{status}"'
        )
        lines += _histogram(c.HTTP_DURATION, labels, fast * n, slow * n)
    lines += [
        f"# TYPE {c.ACTIVE_REQUESTS} gauge",
        f'{c.ACTIVE_REQUESTS}{{{c.LABEL_METHOD}="GET",{c.LABEL_SCHEME}="http"}} 3',
        f"# TYPE {c.TARGET_INFO} gauge",
        f'{c.TARGET_INFO}{{{c.TARGET_INFO_LABEL_SERVICE}="checkout",'
        f'{c.TARGET_INFO_LABEL_VERSION}="1.2.3"}} 1',
        f"# TYPE {c.OPERATION_DURATION} histogram",
    ]
    for operation, outcome, per_scrape in OPERATIONS:
        labels = f'{c.LABEL_OPERATION}="{operation}",{c.LABEL_OUTCOME}="{outcome}"'
        lines += _histogram(c.OPERATION_DURATION, labels, per_scrape * n, 0)
    lines += [
        "# TYPE search_backend_queries_total counter",
        f'search_backend_queries_total{{result="ok"}} {99 * n}',
        f'search_backend_queries_total{{result="error"}} {n}',
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def target() -> Iterator[str]:
    """The exposition server's host:port, stopped after the test."""
    with scrape_target(exposition) as server:
        yield server.address


def test_every_dashboard_query_returns_data(
    prometheus_bin: str, tmp_path: Path, target: str
) -> None:
    """With the generated rules loaded, every panel query and every variable of every built
    dashboard returns at least one series (the alert annotation may be empty here)."""
    out = tmp_path / "build"
    build = subprocess.run(
        [sys.executable, "-m", "obskit", "slo", "build", "slo", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    rule_files = sorted((out / "rules").glob("*.yaml"))
    dashboards = {
        p.name: json.loads(p.read_text()) for p in sorted((out / "dashboards").rglob("*.json"))
    }
    assert len(rule_files) == 2
    assert len(dashboards) == 4

    queries: dict[str, str] = {}
    for name, dashboard in dashboards.items():
        for title, expr, _instant in iter_queries(dashboard):
            queries[substitute_variables(expr, VALUES)] = f"{name}: {title}"
            if title == MAY_BE_EMPTY:
                pending = expr.replace('alertstate="firing"', 'alertstate="pending"')
                assert pending != expr
                queries[pending] = f"{name}: {title} (pending)"
        for variable, selector, label in iter_variable_queries(dashboard):
            promql = f"count by ({label}) ({substitute_variables(selector, VALUES)})"
            queries[promql] = f"{name}: variable {variable}"

    (tmp_path / "prometheus").mkdir()
    prometheus = Prometheus(
        free_port(),
        {"checkout": [target], "search": [target]},
        rule_files,
        binary=prometheus_bin,
        workdir=tmp_path / "prometheus",
    )
    with prometheus:
        deadline = time.monotonic() + 60
        empty = dict(queries)
        while time.monotonic() < deadline:
            empty = {q: where for q, where in empty.items() if not prometheus.query(q)}
            if all(where.endswith(MAY_BE_EMPTY) for where in empty.values()):
                break
            time.sleep(0.5)  # polling interval, bounded by the deadline
        rule_health = prometheus.api("rules")
    problems = [
        f"{group['name']}: {rule['name']}: {rule.get('lastError')}"
        for group in rule_health["groups"]
        for rule in group["rules"]
        if rule.get("health") == "err"
    ]
    assert problems == []
    missing = sorted(
        f"{where}: {q}" for q, where in empty.items() if not where.endswith(MAY_BE_EMPTY)
    )
    assert missing == [], "\n".join(missing)
    assert len(queries) > 40
