"""A Prometheus data folder holding raw history *and* the generated recording rules over it.

Recording rules only evaluate from the moment Prometheus starts, so a test of period figures
(7 days) backfills them with ``promtool tsdb create-blocks-from rules``.  That tool evaluates
each rule against a running server's API, and a rule reading another recorded series sees only
what the server already holds — so the rules of the generated file are backfilled in passes by
dependency depth (a rule is one deeper than the deepest rule it reads), the server restarted on
the new blocks after each pass.  The generator's own rule order and grouping do not matter here,
so this keeps working when groups are split or windows computed from other recorded series.

The 5-minute rate rules (:data:`~obskit.conventions.RULE_SLI_ERRORS_RATE`,
:data:`~obskit.conventions.RULE_SLI_TOTAL_RATE`) are backfilled over the whole period plus an
hour, every 5 minutes (a 1-minute interval takes five times as long to backfill and changes no
figure: every change in the injected data falls on a 5-minute boundary) — the period figures sum
them; every other recording rule every minute over the last half hour only, because ``status``
reads them at one instant.  Alerting rules cannot be backfilled (promtool
skips them), so nothing is firing at that instant — the data is shaped so nothing should.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from examples.stack import Prometheus

from obskit import conventions as c

LONG_RANGE_RULES = (c.RULE_SLI_ERRORS_RATE, c.RULE_SLI_TOTAL_RATE)


def _record_names(rule_files: Sequence[Path]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in rule_files:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += [r for r in group["rules"] if "record" in r]
    return rules


def passes(rule_files: Sequence[Path]) -> list[list[dict[str, Any]]]:
    """The recording rules of ``rule_files`` grouped by dependency depth (1 = raw data only)."""
    rules = _record_names(rule_files)
    names = {r["record"] for r in rules}
    patterns = {n: re.compile(re.escape(n) + r"(?![A-Za-z0-9_:])") for n in names}
    reads = [{n for n in names if patterns[n].search(r["expr"])} for r in rules]
    depth_of_name: dict[str, int] = {}
    depths = [0] * len(rules)
    for _ in range(len(rules) + 1):  # relax until stable (the rules form a DAG)
        changed = False
        for i, rule in enumerate(rules):
            depth = 1 + max((depth_of_name.get(n, 0) for n in reads[i]), default=0)
            if depth != depths[i]:
                depths[i], changed = depth, True
            depth_of_name[rule["record"]] = max(depth_of_name.get(rule["record"], 0), depth)
        if not changed:
            break
    out: list[list[dict[str, Any]]] = [[] for _ in range(max(depths, default=0))]
    for rule, depth in zip(rules, depths, strict=True):
        out[depth - 1].append(rule)
    return out


def backfill_rules(
    prom: Prometheus,
    promtool: str,
    rule_files: Sequence[Path],
    *,
    long_start: int,
    short_start: int,
    end: int,
    work: Path,
) -> int:
    """Backfill every recording rule of ``rule_files`` into ``prom``'s data (see the module
    docstring); ``prom`` (started with a retention longer than the history) runs on return.
    Returns the number of passes."""
    data = prom.workdir / "data"
    levels = passes(rule_files)
    for level, rules in enumerate(levels, start=1):
        long = [r for r in rules if r["record"] in LONG_RANGE_RULES]
        short = [r for r in rules if r["record"] not in LONG_RANGE_RULES]
        out = work / f"pass{level}"
        for kind, chosen, start, every in (
            ("long", long, long_start, "300s"),
            ("short", short, short_start, "60s"),
        ):
            if not chosen:
                continue
            file = work / f"pass{level}-{kind}.yaml"
            file.write_text(yaml.safe_dump({"groups": [{"name": file.stem, "rules": chosen}]}))
            result = subprocess.run(
                [
                    promtool, "tsdb", "create-blocks-from", "rules", "--quiet",
                    f"--url={prom.url}", f"--start={start}", f"--end={end}",
                    f"--eval-interval={every}", f"--output-dir={out}", str(file),
                ],
                capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            assert result.returncode == 0, f"promtool backfill failed:\n{result.stderr}"
        prom.halt(timeout=30)
        for block in out.iterdir():
            shutil.move(str(block), data / block.name)
        prom.start(timeout=60)
    return len(levels)
