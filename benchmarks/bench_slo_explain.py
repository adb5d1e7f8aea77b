"""Benchmark: `obskit slo explain` of one SLO, in process (imports warm).

    python benchmarks/bench_slo_explain.py [--runs 20] [PATH ...]

For every SLO of the specs (default: the bundled `slo/`), the median wall and CPU time of
`explain_slo()` for a total outage alone (what `obskit slo explain` prints by default) and with
two more error ratios (34 % and 6.1 %, the promtool test's; every call simulates afresh, no
cache is shared between calls), and the whole CLI as a fresh process.  Explain steps the rules'
expressions one evaluation at a time (`obskit/slo/_simulate.py`); the goal is well under
0.1 s per SLO.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from obskit.slo._explain import explain_slo
from obskit.slo._load import load_paths

REPO = Path(__file__).resolve().parents[1]


def _median_ms(call: object, runs: int, clock: object = time.perf_counter) -> float:
    assert callable(call)
    assert callable(clock)
    times = []
    for _ in range(runs):
        start = clock()
        call()
        times.append(clock() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("paths", nargs="*", default=[str(REPO / "slo")])
    args = parser.parse_args()
    slos = [slo for service in load_paths(args.paths) for slo in service.slos]
    # CPU time besides wall time: on a shared machine the wall time mostly measures the others.
    print(f"{'SLO':<24}{'outage only: wall':>19}{'cpu':>10}{'+ 2 ratios: wall':>19}{'cpu':>10}")
    cpu = time.process_time
    for slo in slos:
        row = []
        for ratios in ((), (0.34, 0.061)):
            call = lambda slo=slo, ratios=ratios: explain_slo(slo, ratios)  # noqa: E731
            row += [_median_ms(call, args.runs), _median_ms(call, args.runs, cpu)]
        print(f"{slo.id:<24}" + "".join(f"{v:>16.1f} ms" if i % 2 == 0 else f"{v:>7.1f} ms"
                                         for i, v in enumerate(row)))  # fmt: skip
    cli = [sys.executable, "-m", "obskit", "slo", "explain", *args.paths]
    wall = _median_ms(lambda: subprocess.run(cli, capture_output=True, check=True), 5)
    print(f"`obskit slo explain` of all {len(slos)} SLOs as a fresh process: {wall:.0f} ms")


if __name__ == "__main__":
    main()
