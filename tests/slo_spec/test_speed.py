"""Loading stays a small part of the 1,000-SLO build budget (2 s for the whole build)."""

from __future__ import annotations

import time
from pathlib import Path

from obskit.slo._load import load_paths

#: Generous against the ~0.11 s measured (2 shared cores): fails on a quadratic regression,
#: not on a busy machine.
BUDGET_SECONDS = 1.5


def _write_specs(folder: Path, services: int, slos: int) -> None:
    """``services`` files of ``slos`` SLOs each, cycling through the four native kinds."""
    for s in range(services):
        lines = [f"service: svc{s:03d}", "labels: {team: t}", "slos:"]
        for i in range(slos):
            lines += [f"  - name: slo{i}", "    objective: 99.9", "    sli:"]
            kind = i % 4
            if kind == 0:
                lines.append(f'      availability: {{routes: ["/r{i}/{{id}}", "/x"]}}')
            elif kind == 1:
                lines.append("      latency: {threshold: 0.5, methods: [GET, POST]}")
            elif kind == 2:
                lines += [
                    "      ratio:",
                    f'        errors: sum(rate(m{i}_total{{job="svc{s}",r="e"}}[{{{{.window}}}}]))',
                    f'        total: sum(rate(m{i}_total{{job="svc{s}"}}[{{{{.window}}}}]))',
                ]
            else:
                lines.append(f"      operation: {{name: op{i}}}")
            lines += ["    alerting: {min_events: 10, page: {for: 2m, labels: {a: b}}}"]
        (folder / f"svc{s:03d}.yaml").write_text("\n".join(lines) + "\n")


def test_thousand_slos_load_quickly(tmp_path: Path) -> None:
    """100 services x 10 SLOs load, all 1,000 of them, well within the build's budget."""
    _write_specs(tmp_path, services=100, slos=10)
    start = time.perf_counter()
    services = load_paths([tmp_path])
    elapsed = time.perf_counter() - start
    assert len(services) == 100
    assert sum(len(s.slos) for s in services) == 1000
    assert elapsed < BUDGET_SECONDS, f"loading 1,000 SLOs took {elapsed:.2f} s"
