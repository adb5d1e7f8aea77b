"""`obskit slo backfill-rules`: the rule file to backfill before the long windows have history."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from obskit import conventions as c

REPO = Path(__file__).resolve().parents[2]


def _backfill(*paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "obskit", "slo", "backfill-rules", *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def test_backfill_rules_are_the_builds_5m_rate_rules(tmp_path: Path, promtool: str) -> None:
    """For the bundled specs the command prints exactly the two 5-minute rate rules of every
    events SLO — the same expressions and labels as in the committed `rules/` (so backfilled
    series continue the live ones) — and promtool accepts it."""
    result = _backfill("slo/")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "backfill.yaml"
    path.write_text(result.stdout)
    check = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    printed = [r for g in yaml.safe_load(result.stdout)["groups"] for r in g["rules"]]
    built = [
        r
        for f in sorted((REPO / "rules").glob("*.yaml"))
        for g in yaml.safe_load(f.read_text())["groups"]
        for r in g["rules"]
        if r.get("record") in (c.RULE_SLI_ERRORS_RATE, c.RULE_SLI_TOTAL_RATE)
    ]
    assert printed == built
    assert len(printed) == 2 * 3  # three events SLOs: checkout availability, latency; search


def test_backfill_rules_bad_spec_exits_2(tmp_path: Path) -> None:
    """A bad spec gets the usual `file:line: field: message` and exit 2, and prints no rules."""
    spec = tmp_path / "bad.yaml"
    spec.write_text("service: x\nslos:\n  - name: a\n    objective: 100\n    sli:\n"
                    "      availability: {}\n")  # fmt: skip
    result = _backfill(str(spec))
    assert result.returncode == 2
    assert "bad.yaml:4" in result.stderr
    assert result.stdout == ""
