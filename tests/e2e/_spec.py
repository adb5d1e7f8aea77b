"""The SLO specs the end-to-end stack loads: ``slo/`` with shorter ``for:``, built by the real CLI.

The committed specs hold page alerts for 2 minutes and ticket alerts for 15 minutes before they
fire; a test cannot wait that long.  :func:`fast_alert_specs` writes a copy of every spec of
``slo/`` whose alert tiers all use ``for: FAST_FOR`` and changes nothing else (objectives,
windows, burn-rate factors, ``min_events``, selectors and labels stay as committed), so the
alerts that fire are the ones a user's Prometheus would fire, only sooner.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO / "slo"
COMMITTED_DASHBOARDS = REPO / "dashboards"

#: Long enough to see an alert go pending → firing over a few 1 s evaluations, short enough to
#: keep the suite fast.
FAST_FOR = "3s"


def _fast_tier(tier: Any) -> Any:
    if tier is False:  # `page: false`: this SLO never pages; keep it that way
        return tier
    settings = dict(tier) if isinstance(tier, dict) else {}
    settings["for"] = FAST_FOR
    return settings


def fast_alert_specs(out: Path) -> list[Path]:
    """Copy every spec of ``slo/`` into ``out`` with ``for: FAST_FOR`` on every alert tier."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(SPEC_DIR.glob("*.yaml")):
        spec = yaml.safe_load(source.read_text())
        for slo in spec["slos"]:
            alerting = slo.setdefault("alerting", {})
            for tier in ("page", "ticket"):
                alerting[tier] = _fast_tier(alerting.get(tier))
        target = out / source.name
        target.write_text(yaml.safe_dump(spec, sort_keys=False))
        written.append(target)
    return written


def build(specs: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """Run the real ``obskit slo build SPECS --out OUT`` (rules and dashboards) and check it."""
    result = subprocess.run(
        [sys.executable, "-m", "obskit", "slo", "build", str(specs), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"obskit slo build failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result
