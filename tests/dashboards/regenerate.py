"""Rewrite the repository's committed dashboards/ from the bundled slo/ examples.

Run from the repository root:  python tests/dashboards/regenerate.py
(test_committed_dashboards.py fails, naming this command, whenever dashboards/ is stale).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from obskit.dashboards._build import DashboardOptions, render
from obskit.slo import load

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python tests/dashboards/regenerate.py"


def expected_files() -> dict[str, str]:
    """What dashboards/ must hold: a default build of slo/ (relative paths → content)."""
    # Relative "slo" from the root, exactly like `obskit slo build slo` run there, so the
    # source paths named in the dashboards match a user's build byte for byte.
    with contextlib.chdir(ROOT):
        return render(load(["slo"]), DashboardOptions())


def committed_files() -> dict[str, str]:
    """What dashboards/ holds now."""
    folder = ROOT / "dashboards"
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def main() -> int:
    """Write dashboards/ afresh (removing stale files) and say what changed."""
    folder = ROOT / "dashboards"
    expected = expected_files()
    for rel in sorted(set(committed_files()) - set(expected)):
        (folder / rel).unlink()
        print(f"removed dashboards/{rel}")
    for rel, text in expected.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote dashboards/{rel}")
    for sub in sorted(folder.rglob("*"), reverse=True):
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
