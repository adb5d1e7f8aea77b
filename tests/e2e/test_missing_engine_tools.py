"""Without VictoriaMetrics or Alertmanager installed, the two-engine tests fail loudly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ._spec import REPO


def test_missing_engine_tools_fail_the_two_engine_tests_instead_of_skipping(
    tmp_path: Path,
) -> None:
    """With Prometheus and promtool on PATH but neither VictoriaMetrics' binaries nor
    Alertmanager, a two-engine test and the VictoriaMetrics demo test report errors naming every
    missing binary and both Debian packages, and zero skips."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("prometheus", "promtool"):
        found = shutil.which(tool)
        assert found, f"{tool} is needed to run this test"
        os.symlink(found, bin_dir / tool)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/e2e/test_engines.py::test_vmalert_dry_run_accepts_the_rule_files",
            "tests/e2e/test_demo_vm.py",
        ],
        cwd=REPO,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert (
        "not on PATH: `victoria-metrics`, `vmagent`, `vmalert`, `prometheus-alertmanager`: "
        "install Debian's `prometheus-alertmanager` and `victoria-metrics`"
    ) in output, output
    summary = output.splitlines()[-1]
    assert "skipped" not in summary, output
    assert "2 errors" in summary, output
