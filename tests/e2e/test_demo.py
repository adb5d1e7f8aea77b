"""``python -m examples.demo``: everything comes up, and everything goes away on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support import ServerProcess, port_answers

from ._spec import REPO


def _children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _poll(prom: str, expr: str, check: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        result = httpx.get(f"{prom}/api/v1/query", params={"query": expr}).json()["data"]["result"]
        if check(result) or time.monotonic() > deadline:
            return list(result)
        time.sleep(0.3)


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM", "SIGHUP", "duration"])
def test_demo_runs_and_leaves_no_process_behind(
    stop: str, prometheus_bin: str, tmp_path: Path
) -> None:
    """The demo builds the rules, starts both services and Prometheus, prints the URLs, and its
    load generator's requests reach Prometheus with exemplars and every rule group loaded; then
    Ctrl-C (SIGINT), SIGTERM, SIGHUP (terminal closed) or the end of ``--duration`` stops it
    with status 0, and none of the processes it started (nor anything in their process groups)
    survives or keeps a port open."""
    argv = [sys.executable, "-m", "examples.demo", "--free-ports", "--interval", "1s"]
    argv += ["--rate", "20", "--workdir", str(tmp_path / "demo")]
    if stop == "duration":
        argv += ["--duration", "12"]
    demo = ServerProcess(argv, cwd=REPO, name="demo")
    children: list[int] = []
    try:
        _run_and_stop(demo, stop, children)
        survivors = [pid for pid in children if _group_alive(pid)]
        assert not survivors, f"processes left behind: {survivors}"
    finally:
        demo.stop()
        for pid in children:  # only when the test failed: never leave them running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def _run_and_stop(demo: ServerProcess, stop: str, children: list[int]) -> None:
    """Start the demo, check what it serves, stop it as ``stop`` says; record its children."""
    demo.start()
    demo.wait_for_line(lambda line: "Press Ctrl-C" in line, timeout=90)
    text = "\n".join(demo.texts("stdout"))
    prom = re.search(r"Prometheus\s+(http://127\.0\.0\.1:\d+)", text)
    assert prom, text
    ports = [int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)", text)]
    children += _children(demo.pid)
    assert len(children) == 3, f"expected 2 services and Prometheus, got {children}"

    rules = httpx.get(f"{prom[1]}/api/v1/rules").json()["data"]["groups"]
    assert len(rules) == 3, [g["name"] for g in rules]  # checkout x2, search x1
    up = _poll(prom[1], "up == 1", lambda r: len(r) == 2)
    assert {r["metric"]["job"] for r in up} == {"checkout", "search"}
    expr = 'sum(http_server_request_duration_seconds_count{job="checkout"})'
    assert _poll(prom[1], expr, lambda r: r and float(r[0]["value"][1]) > 0)
    exemplars = httpx.get(
        f"{prom[1]}/api/v1/query_exemplars",
        params={
            "query": 'http_server_request_duration_seconds_bucket{job="checkout"}',
            "start": str(time.time() - 120),
            "end": str(time.time()),
        },
    ).json()["data"]
    assert exemplars, "no exemplar stored"

    if stop != "duration":
        demo.signal(getattr(signal, stop))  # the demo's own group: what Ctrl-C reaches
    deadline = time.monotonic() + 40
    while demo.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert demo.returncode == 0, demo.output_tail()
    demo.wait_for_line(lambda line: "obskit demo stopped" in line, timeout=5)
    assert not [p for p in set(ports) if port_answers(p)], "a demo port still answers"


def test_demo_refuses_to_wipe_a_folder_it_did_not_create(tmp_path: Path) -> None:
    """The demo clears its work folder on start, but never one that is not a demo folder: a
    non-empty --workdir without the demo's marker is refused (status 2) and left untouched."""
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo", "--workdir", str(tmp_path), "--free-ports"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not a demo folder" in result.stdout
    assert precious.read_text() == "keep me"
