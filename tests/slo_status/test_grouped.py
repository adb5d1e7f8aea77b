"""``status``, ``gate`` and ``explain`` on a grouped SLO (native ``group_by``), against a real
Prometheus scraping a target whose routes fail differently: the figures shown are the worst
group's and name it, a tier fires when it fires for any group, the gate blocks on it, and
``explain`` (model-only) explains the tiers every group gets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from examples.stack import Prometheus
from tests.conftest import free_port

from obskit import conventions as c

from .conftest import build, run_obskit

SPEC = """\
service: routes
policy: {freeze_while_firing: [page]}
slos:
  - name: availability
    objective: 99
    period: 7d
    sli:
      availability: {group_by: [http_route]}
    alerting:
      page: {for: 0s}
      ticket: {for: 0s}
"""
#: Route → (requests, failed requests) added per scrape: /cart fails half, /home 1 in 1000
#: (burn rate 0.1: below every tier; the slowest fires at 0.1 x 7d / 3d = 0.233), /search never.
ROUTES = {"/cart": (10, 5), "/home": (1000, 1), "/search": (10, 0)}


class _Target(BaseHTTPRequestHandler):
    scrapes = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            type(self).scrapes += 1
            n = type(self).scrapes
        lines = []
        for route, (total, failed) in ROUTES.items():
            for status, count in (("200", total - failed), ("500", failed)):
                if count:
                    lines.append(
                        f'{c.HTTP_DURATION_COUNT}{{{c.LABEL_ROUTE}="{route}",'
                        f'{c.LABEL_METHOD}="GET",{c.LABEL_STATUS}="{status}"}} {n * count}\n'
                    )
        body = "".join(lines).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Grouped:
    prometheus: Prometheus
    spec_dir: Path


@pytest.fixture(scope="module")
def grouped(prometheus_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grouped]:
    """A server evaluating SPEC's rules every second until /cart's page-1h tier fires."""
    tmp = tmp_path_factory.mktemp("grouped")
    (tmp / "slo").mkdir()
    (tmp / "slo" / "routes.yaml").write_text(SPEC)
    rule_files = build(tmp / "slo", tmp / "build")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    (tmp / "prometheus").mkdir()
    prom = Prometheus(
        free_port(),
        {"routes": [f"127.0.0.1:{server.server_address[1]}"]},
        rule_files,
        binary=prometheus_bin,
        workdir=tmp / "prometheus",
    )
    try:
        prom.start()
        prom.wait_for(
            f'{c.ALERTS_SERIES}{{{c.SLO_LABEL_SERVICE}="routes",{c.ALERT_LABEL_TIER}="page-1h",'
            f'{c.ALERT_STATE_LABEL}="{c.ALERT_STATE_FIRING}"}}',
            timeout=60,
        )
        prom.wait_for(
            f"count(count_over_time({c.RULE_ERROR_BUDGET_REMAINING}"
            f'{{{c.SLO_LABEL_SERVICE}="routes"}}[1m]) >= 3) == 3',
            timeout=60,
        )
        yield Grouped(prom, tmp / "slo")
    finally:
        prom.stop()
        server.shutdown()
        server.server_close()


def test_alerts_fire_only_for_the_failing_route(grouped: Grouped) -> None:
    """Every firing alert of the SLO carries http_route="/cart"; the other routes have none."""
    firing = grouped.prometheus.query(
        f'{c.ALERTS_SERIES}{{{c.SLO_LABEL_SERVICE}="routes",'
        f'{c.ALERT_STATE_LABEL}="{c.ALERT_STATE_FIRING}"}}'
    )
    assert firing
    assert {a["metric"][c.LABEL_ROUTE] for a in firing} == {"/cart"}


def test_status_shows_the_worst_group_and_names_it(grouped: Grouped) -> None:
    """JSON: three groups, the worst is /cart (50 % errors, budget deep below 0), page-1h
    firing; the highest 5m burn rate is /cart's (50 % / 1 % = 50).  The table names the group."""
    result = run_obskit(
        "slo", "status", str(grouped.spec_dir), "--prometheus", grouped.prometheus.url,
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 7, result.stderr  # seconds of data for a 7-day period
    slo = json.loads(result.stdout)["slos"][0]
    assert slo["group_by"] == [c.LABEL_ROUTE]
    assert slo["groups"] == 3
    assert slo["worst_group"] == {c.LABEL_ROUTE: "/cart"}
    assert slo["error_ratio"] == pytest.approx(0.5, rel=1e-6)
    assert slo["budget_remaining"] == pytest.approx(1 - 0.5 / 0.01, rel=1e-6)
    assert slo["burn_rates"]["5m"] == pytest.approx(50, rel=1e-6)
    assert "page-1h" in slo["firing"]
    # Events are summed over the groups: per scrape 10 + 1000 + 10 requests, 5 + 1 failed.
    assert slo["errors"] / slo["events"] == pytest.approx(6 / 1020, rel=1e-3)
    table = run_obskit(
        "slo", "status", str(grouped.spec_dir), "--prometheus", grouped.prometheus.url
    )  # fmt: skip
    assert f"routes/availability [worst of 3: {c.LABEL_ROUTE}=/cart]" in table.stdout


def test_gate_blocks_when_one_group_pages(grouped: Grouped) -> None:
    """freeze_while_firing: [page] blocks while the page tier fires for any one route."""
    result = run_obskit(
        "slo", "gate", str(grouped.spec_dir), "--prometheus", grouped.prometheus.url
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "alert tier page-1h (page) is firing" in result.stdout


def test_explain_runs_on_a_grouped_slo(grouped: Grouped) -> None:
    """`explain` reads the model only: a grouped SLO gets the same tiers as an ungrouped one
    (each group's alerts behave as one SLO's), with no crash and exit 0."""
    result = run_obskit("slo", "explain", str(grouped.spec_dir), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "page-1h" in result.stdout
