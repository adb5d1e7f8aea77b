"""Benchmark: `obskit slo build` of 1,000 SLOs across 100 services, as a fresh process.

    python benchmarks/bench_slo_build.py [--runs 5] [--services 100] [--slos-per-service 10]

Generates the specs in a temporary folder (mixed SLI kinds: availability, latency, operation,
ratio, and a Sloth raw-ratio file every tenth service), then times `obskit slo build` as a new
process several times (the real CI situation: interpreter start-up, imports, YAML loading,
generation, PromQL parsing of every expression, rendering, dashboards, writing).  Prints the
median wall time, the peak RSS of the build processes, the number of rules per SLO, and for
comparison the median of the same build called in-process with warm imports.  Goal: <= 2 s for
the fresh process on a 2-core machine.
"""

from __future__ import annotations

import argparse
import io
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

_KINDS = (
    '      availability:\n        routes: ["/api/{{id}}", "/api"]\n',
    "      latency:\n        threshold: 0.25\n        methods: [GET]\n",
    "      operation:\n        name: job{i}\n",
    "      ratio:\n"
    '        errors: sum(rate(app_errors_total{{job="{svc}",op="{i}"}}[{{{{.window}}}}]))\n'
    '        total: sum(rate(app_requests_total{{job="{svc}",op="{i}"}}[{{{{.window}}}}]))\n',
)


def _native(service: str, slos: int) -> str:
    lines = [f"service: {service}\nlabels:\n  team: team-{service[-2:]}\nslos:\n"]
    for i in range(slos):
        kind = _KINDS[i % len(_KINDS)].format(i=i, svc=service)
        lines.append(
            f"  - name: slo-{i}\n    objective: 99.{i % 9 + 1}\n"
            f"    period: {28 if i % 3 == 0 else 30}d\n    sli:\n{kind}"
            f"    alerting:\n      min_events: {10 * i}\n"
        )
    return "".join(lines)


def _sloth(service: str, slos: int) -> str:
    lines = [f'version: "prometheus/v1"\nservice: {service}\nslos:\n']
    for i in range(slos):
        lines.append(
            f"  - name: raw-{i}\n    objective: 99.5\n    sli:\n      raw:\n"
            f'        error_ratio_query: sum(rate(e_total{{job="{service}",op="{i}"}}'
            f'[{{{{.window}}}}])) / sum(rate(t_total{{job="{service}",op="{i}"}}'
            f"[{{{{.window}}}}]))\n"
            f"    alerting:\n      name: Raw{i}\n"
            "      page_alert:\n        labels:\n          severity: critical\n"
        )
    return "".join(lines)


def generate(folder: Path, services: int, per_service: int) -> int:
    """Write the specs; returns the number of SLOs."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(services):
        name = f"svc{n:03d}"
        text = _sloth(name, per_service) if n % 10 == 9 else _native(name, per_service)
        (folder / f"{name}.yaml").write_text(text)
    return services * per_service


def _fresh(specs: Path, out: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "obskit", "slo", "build", str(specs), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"build failed ({result.returncode}):\n{result.stderr[:2000]}")
    return elapsed


def _warm(specs: Path, out: Path) -> float:
    from obskit._cli import main

    start = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        code = main(["slo", "build", str(specs), "--out", str(out)])
    elapsed = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"in-process build failed ({code})")
    return elapsed


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--slos-per-service", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="obskit-bench-") as tmp:
        root = Path(tmp)
        specs = root / "slo"
        slos = generate(specs, args.services, args.slos_per_service)
        fresh = []
        for run in range(args.runs):
            out = root / f"out{run}"  # a fresh folder each run: every file is written
            fresh.append(_fresh(specs, out))
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rules = 0
        for path in (root / "out0" / "rules").glob("*.yaml"):
            text = path.read_text()
            rules += text.count("\n      - record: ") + text.count("\n      - alert: ")
        warm = [_warm(specs, root / f"warm{run}") for run in range(args.runs + 1)][1:]
        files = sum(1 for p in (root / "out0").rglob("*") if p.is_file())
    print(f"obskit slo build: {slos} SLOs across {args.services} services, {files} files written")
    print(f"  fresh process, median of {args.runs}: {statistics.median(fresh):.2f} s "
          f"(min {min(fresh):.2f} s, max {max(fresh):.2f} s; goal <= 2 s)")  # fmt: skip
    print(f"  peak RSS of the build process: {peak_kib / 1024:.0f} MiB")
    print(f"  rules: {rules} ({rules / slos:.1f} per SLO)")
    print(f"  in-process with warm imports, median of {args.runs}: {statistics.median(warm):.2f} s")


if __name__ == "__main__":
    main()
