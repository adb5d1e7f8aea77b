"""``python -m examples.demo --engine victoriametrics``: the demo on VictoriaMetrics + vmalert."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import time
from pathlib import Path

import httpx
import yaml
from tests.support import ServerProcess, port_answers

from ._spec import REPO
from .test_demo import _children, _group_alive, _poll


def test_demo_runs_on_victoriametrics_and_leaves_no_process_behind(
    engine_tools: dict[str, str], tmp_path: Path
) -> None:
    """With ``--engine victoriametrics`` the demo starts both services, victoria-metrics,
    vmagent, vmalert and an Alertmanager and prints their URLs; vmagent's scrapes of both
    services reach VictoriaMetrics; vmalert loads every rule group and evaluates every rule
    without an error; Ctrl-C then stops it with status 0, leaving no process (nor anything in
    their process groups) and no open port behind."""
    argv = [sys.executable, "-m", "examples.demo", "--engine", "victoriametrics"]
    argv += ["--free-ports", "--interval", "1s", "--rate", "20"]
    argv += ["--workdir", str(tmp_path / "demo")]
    demo = ServerProcess(argv, cwd=REPO, name="demo")
    children: list[int] = []
    try:
        demo.start()
        demo.wait_for_line(lambda line: "Press Ctrl-C" in line, timeout=90)
        text = "\n".join(demo.texts("stdout"))
        vm = re.search(r"VictoriaMetrics\s+(http://127\.0\.0\.1:\d+)", text)
        vmalert = re.search(r"rules\s+(http://127\.0\.0\.1:\d+)/vmalert/groups", text)
        assert vm, text
        assert vmalert, text
        assert "Alertmanager       http://127.0.0.1:" in text
        ports = [int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)", text)]
        children += _children(demo.pid)
        # 2 services, victoria-metrics, vmagent, vmalert, Alertmanager
        assert len(children) == 6, children

        # `up` travels the scraped samples' way (vmagent's remote write).  The load's request
        # counts would arrive ~10 s later (a new series is searchable after ~9 s on VM 1.79):
        # the two-engine tests check those counts, exactly.
        up = _poll(vm[1], "up == 1", lambda r: len(r) == 2)
        assert {r["metric"]["job"] for r in up} == {"checkout", "search"}
        # By now vmalert has evaluated every group many times, each rule without an error
        # (that its recordings land in VictoriaMetrics is the two-engine tests' job: same stack).
        groups = httpx.get(f"{vmalert[1]}/api/v1/rules").json()["data"]["groups"]
        assert len(groups) == 3, [g["name"] for g in groups]  # checkout x2, search x1
        rules = [rule for group in groups for rule in group["rules"]]
        # Every rule the demo built (its rule files as `obskit slo build` wrote them).
        built = [
            rule
            for path in sorted((tmp_path / "demo" / "build" / "rules").glob("*.yaml"))
            for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"]
        ]
        assert built, "the demo built no rule"
        assert len(rules) == len(built), (len(rules), len(built))
        assert not [r for r in rules if r.get("lastError")], rules

        demo.signal(signal.SIGINT)
        deadline = time.monotonic() + 40
        while demo.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert demo.returncode == 0, demo.output_tail()
        demo.wait_for_line(lambda line: "obskit demo stopped" in line, timeout=5)
        assert not [p for p in set(ports) if port_answers(p)], "a demo port still answers"
        survivors = [pid for pid in children if _group_alive(pid)]
        assert not survivors, f"processes left behind: {survivors}"
    finally:
        demo.stop()
        for pid in children:  # only when the test failed: never leave them running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
