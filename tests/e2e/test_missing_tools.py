"""Without Prometheus installed, the end-to-end tests fail loudly: they never skip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ._spec import REPO


def test_missing_prometheus_fails_the_e2e_tests_instead_of_skipping(tmp_path: Path) -> None:
    """With an empty PATH (no `prometheus`, no `promtool`), running the gunicorn and SLI tests
    reports errors naming the missing binary and how to install it, and zero skipped tests."""
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/e2e/test_gunicorn.py",
            "tests/e2e/test_slo_rules.py::test_every_generated_rule_group_is_loaded_and_healthy",
        ],
        cwd=REPO,
        env={"PATH": str(empty_bin), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "`prometheus` is not on PATH" in output
    assert "skipped" not in output.splitlines()[-1], output
    assert "2 errors" in output.splitlines()[-1] or "2 failed" in output.splitlines()[-1], output
