"""Without VictoriaMetrics or Alertmanager installed, the two-engine tests fail loudly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ._spec import REPO

#: Two tests of the two-engine module: one needs the stack, one vmalert on top.
SELECTED = [
    "tests/e2e/test_engines.py::test_vmalert_dry_run_accepts_the_rule_files",
    "tests/e2e/test_engines.py::test_both_engines_deliver_the_same_alerts",
]


def _run_with_only(tools: list[str], tmp_path: Path) -> str:
    """Run SELECTED with a PATH holding only ``tools`` (symlinks); return the output."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        assert found, f"{tool} is needed to run this test"
        os.symlink(found, bin_dir / tool)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SELECTED],
        cwd=REPO,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    summary = output.splitlines()[-1]
    assert "skipped" not in summary, output
    assert "2 errors" in summary, output
    return output


@pytest.mark.parametrize(
    ("present", "missing", "package"),
    [
        (["prometheus", "promtool"], "victoria-metrics", "victoria-metrics"),
        (
            ["prometheus", "promtool", "victoria-metrics", "vmagent", "vmalert"],
            "prometheus-alertmanager",
            "prometheus-alertmanager",
        ),
    ],
)
def test_a_missing_engine_tool_fails_the_two_engine_tests_instead_of_skipping(
    tmp_path: Path, present: list[str], missing: str, package: str
) -> None:
    """With Prometheus on PATH but not `victoria-metrics` (then: everything but Alertmanager),
    the two-engine tests report errors naming the missing binary and its Debian package, and
    zero skips."""
    output = _run_with_only(present, tmp_path)
    assert f"`{missing}` is not on PATH: install Debian's `{package}` package" in output
