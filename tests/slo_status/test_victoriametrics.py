"""``status`` against VictoriaMetrics (MetricsQL): the same figures as Prometheus.

VictoriaMetrics does not evaluate rules itself (vmalert does), so the series the backfilled
Prometheus holds — raw counters and every recorded obskit series over the period — are copied
into a single-node VictoriaMetrics through its ``/api/v1/import`` API, and ``status --at END``
must print what it prints against Prometheus.  This checks that every query status sends
(instant selectors, ``avg_over_time`` over 7 days, ``timestamp()`` subqueries, ``ALERTS``) means
the same in MetricsQL.  Tolerance 1e-3 relative: MetricsQL range windows are left-open where
Prometheus 2's are closed, one 5-minute rate sample in ten thousand.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import _require_tool, free_port

from .conftest import Backfilled, run_obskit


@pytest.fixture(scope="module")
def victoria(backfilled: Backfilled, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A VictoriaMetrics holding a copy of the backfilled server's series."""
    binary = _require_tool("victoria-metrics")
    tmp: Path = tmp_path_factory.mktemp("victoria")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp / "vm.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"-storageDataPath={tmp / 'data'}", f"-httpListenAddr=127.0.0.1:{port}",
         "-retentionPeriod=100y", "-search.disableCache"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_ready(url)
        span = f"{7 * 86400 + 7200}s"
        lines = []
        for selector in ('{__name__=~"obskit_slo:.+"}', '{job="shop"}'):
            data = backfilled.prometheus.api(
                "query", query=f"{selector}[{span}]", time=str(backfilled.end)
            )
            for series in data["result"]:
                values = [float(v) for _, v in series["values"]]
                stamps = [round(float(t) * 1000) for t, _ in series["values"]]
                lines.append(json.dumps(
                    {"metric": series["metric"], "values": values, "timestamps": stamps}
                ))  # fmt: skip
        assert len(lines) > 20
        body = ("\n".join(lines) + "\n").encode()
        request = urllib.request.Request(f"{url}/api/v1/import", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 204
        urllib.request.urlopen(f"{url}/internal/force_flush", timeout=30).close()
        _wait_for_series(url, backfilled.end)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "victoria-metrics did not start"
        time.sleep(0.1)


def _wait_for_series(url: str, at: int, timeout: float = 30) -> None:
    query = urllib.parse.urlencode({"query": "count(obskit_slo:objective:ratio)", "time": at})
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=5) as response:
            result = json.load(response)["data"]["result"]
        if result and float(result[0]["value"][1]) == 2:
            return
        assert time.monotonic() < deadline, f"imported series not searchable: {result}"
        time.sleep(0.5)


def _json(backfilled: Backfilled, url: str) -> dict[str, dict[str, object]]:
    result = run_obskit(
        "slo", "status", str(backfilled.spec_dir), "--prometheus", url,
        "--at", str(backfilled.end), "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return {s["slo"]: s for s in json.loads(result.stdout)["slos"]}


def test_status_on_victoriametrics_equals_status_on_prometheus(
    backfilled: Backfilled, victoria: str
) -> None:
    """Every figure of every SLO agrees within 1e-3; nothing firing; full coverage."""
    on_prometheus = _json(backfilled, backfilled.prometheus.url)
    on_victoria = _json(backfilled, victoria)
    assert sorted(on_victoria) == sorted(on_prometheus)
    for name, want in on_prometheus.items():
        got = on_victoria[name]
        for key in ("sli", "error_ratio", "budget_remaining", "events", "errors",
                    "budget_lasts_seconds", "data_seconds", "current_burn_rate"):  # fmt: skip
            assert got[key] == pytest.approx(want[key], rel=1e-3), (name, key)
        assert isinstance(got["burn_rates"], dict)
        assert isinstance(want["burn_rates"], dict)
        assert list(got["burn_rates"]) == list(want["burn_rates"])
        for window, rate in want["burn_rates"].items():
            assert got["burn_rates"][window] == pytest.approx(rate, rel=1e-3), (name, window)
        assert got["firing"] == []
        assert got["problem"] is None
