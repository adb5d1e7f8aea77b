"""The runtime benchmark still runs against the current runtime (a quick, one-variant run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_quick_run_of_obskit_and_its_bare_twin(tmp_path: Path) -> None:
    """``bench_runtime.py --quick --only`` runs obskit (sampled, Starlette, 1 route) and the bare
    app in their own processes, checks that obskit counted exactly the timed requests, and
    prints the table with the goal lines."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_runtime.py"),
            "--quick",
            "--only",
            "^obskit-starlette-1$",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert set(results) == {"bare-starlette-1", "obskit-starlette-1"}
    obskit = results["obskit-starlette-1"]
    assert "requests counted" in obskit["check"]
    assert obskit["overhead"]["median_us"] > 0
    assert "obskit overhead ÷ trio overhead" not in proc.stdout  # the trio was not run
    assert "obskit, sampled" in proc.stdout


def test_soak_benchmark_short_run_reports_gc_per_worker_and_the_goals(tmp_path: Path) -> None:
    """A 4-second ``bench_soak.py`` (gunicorn, 2 uvicorn workers per side, a real receiver):
    every request answered, one span received per request sent to obskit, GC records of both
    workers of each side with their frozen objects (obskit's start-up heap frozen, the bare
    app's not), connections spread evenly, CPU per request measured, and the printed report has
    the per-worker GC lines, the tail ratios and the three goal verdicts."""
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_soak.py"), "--seconds", "4",
         "--slice", "2", "--warmup", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    for side in ("bare", "obskit"):
        assert results[side]["requests"] > 0
        assert results[side]["errors"] == 0
        assert len(results[side]["gc"]) == 2, results[side]["gc"]
    assert results["receiver"]["spans"] == results["obskit"]["sent_in_total"]
    assert all(g["frozen"] > 20_000 for g in results["obskit"]["gc"].values())
    assert all(g["frozen"] == 0 for g in results["bare"]["gc"].values())
    for line in ("throughput ÷ bare", "p99 ÷ bare p99", "GC pauses > 10 ms", "full (gen-2)"):
        assert line in proc.stdout, proc.stdout
    assert proc.stdout.count("collections, max") == 4  # one line per worker
    # The 8 connections were spread 4/4 over the two workers in every slice (warm-up included),
    # and each side's CPU per request was measured in its own processes.
    for side in ("bare", "obskit"):
        spreads = results[side]["connections_per_worker"]
        assert len(spreads) == 3, spreads  # one warm-up slice, two timed
        assert all(spread == [4, 4] for spread in spreads), spreads
        assert results[side]["cpu_s"]["server"] > 0
        assert results[side]["cpu_s"]["loadgen"] > 0
    assert results["obskit"]["cpu_s"]["receiver"] > 0  # the spans' decoding
    assert "h11 on asyncio" in proc.stdout
    assert "latency ÷ bare at p50 / p90 / p95 / p99 / p99.9" in proc.stdout
