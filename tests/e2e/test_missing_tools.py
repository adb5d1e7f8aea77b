"""Without Prometheus installed, the end-to-end tests fail loudly: they never skip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ._spec import REPO


def test_missing_prometheus_or_promtool_fails_the_e2e_tests_instead_of_skipping(
    tmp_path: Path,
) -> None:
    """With an empty PATH (no `prometheus`, no `promtool`), running the gunicorn, rule-health
    and promtool tests reports three errors naming the missing binaries, and zero skips."""
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
            "tests/e2e/test_slo_rules.py::test_the_loaded_rule_files_pass_promtool",
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
    assert "`promtool` is not on PATH" in output
    summary = output.splitlines()[-1]
    assert "skipped" not in summary, output
    assert "3 errors" in summary, output
