"""Run a ``promtool test rules`` unit from a test: write it, run it, fail with its output."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from typing import Any

import yaml


def assert_unit_passes(promtool: str, folder: Path, unit: dict[str, Any]) -> None:
    """Write ``unit`` as ``folder/test.yaml`` (its ``rule_files`` relative to ``folder``), run
    promtool on it and fail with promtool's own words if any check fails."""
    (folder / "test.yaml").write_text(yaml.safe_dump(unit, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [promtool, "test", "rules", "test.yaml"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, textwrap.shorten(result.stdout + result.stderr, 6000)
