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
