"""Golden files: every `tests/golden/inputs/<case>.yaml` compiles to the committed
`tests/golden/expected/<case>/rules/<service>.yaml`, and promtool accepts every one.

Regenerate after an intended change with ``OBSKIT_UPDATE_GOLDEN=1 pytest tests/slo_rules``
and review the diff like code.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from obskit.slo import DashboardOptions, build, load

REPO = Path(__file__).resolve().parents[2]
INPUTS = REPO / "tests" / "golden" / "inputs"
EXPECTED = REPO / "tests" / "golden" / "expected"
CASES = sorted(p.stem for p in INPUTS.glob("*.yaml"))
UPDATE = os.environ.get("OBSKIT_UPDATE_GOLDEN") == "1"


def _build(case: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    # Built from the repository root, as a user runs it: headers name the relative input path.
    monkeypatch.chdir(REPO)
    services = load([f"tests/golden/inputs/{case}.yaml"])
    # The goldens are rule files only: no dashboards.
    return build(services, dashboards=DashboardOptions(enabled=False))


def test_there_is_a_golden_case_per_input() -> None:
    """Every golden input has expected output and no expected output lacks its input."""
    assert CASES
    if not UPDATE:
        assert sorted(p.name for p in EXPECTED.iterdir() if p.is_dir()) == CASES


@pytest.mark.parametrize("case", CASES)
def test_golden_output(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The build of one golden input is byte-identical to its committed expected files."""
    files = _build(case, monkeypatch)
    folder = EXPECTED / case
    if UPDATE:
        for old in folder.rglob("*.yaml"):
            old.unlink()
        for rel, content in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(content, encoding="utf-8", newline="\n")
    expected = {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*.yaml"))
    }
    assert sorted(files) == sorted(expected)
    for rel, content in files.items():
        assert content == expected[rel], f"{case}/{rel} differs (OBSKIT_UPDATE_GOLDEN=1 to accept)"


def test_promtool_accepts_every_golden_output(promtool: str) -> None:
    """`promtool check rules` accepts every expected rule file (one promtool run for all)."""
    paths = sorted(str(p) for p in EXPECTED.rglob("*.yaml"))
    assert len(paths) >= len(CASES)
    result = subprocess.run(
        [promtool, "check", "rules", *paths], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(paths)
