"""Benchmark: `obskit slo explain` of one SLO, in process (imports warm).

    python benchmarks/bench_slo_explain.py [--runs 20] [PATH ...]

For every SLO of the specs (default: the bundled `slo/`), the median wall time of
`explain_slo()` for a total outage alone (what `obskit slo explain` prints by default) and with
two more error ratios (34 % and 6.1 %, the promtool test's), each call on a fresh model so no
cache is shared between runs, and the whole CLI as a fresh process.  Explain steps the rules'
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


def _median_ms(call: object, runs: int) -> float:
    assert callable(call)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("paths", nargs="*", default=[str(REPO / "slo")])
    args = parser.parse_args()
    slos = [slo for service in load_paths(args.paths) for slo in service.slos]
    print(f"{'SLO':<28}{'outage only':>14}{'+ 2 ratios':>14}")
    for slo in slos:
        alone = _median_ms(lambda slo=slo: explain_slo(slo), args.runs)
        more = _median_ms(lambda slo=slo: explain_slo(slo, [0.34, 0.061]), args.runs)
        print(f"{slo.id:<28}{alone:>11.1f} ms{more:>11.1f} ms")
    cli = [sys.executable, "-m", "obskit", "slo", "explain", *args.paths]
    wall = _median_ms(lambda: subprocess.run(cli, capture_output=True, check=True), 5)
    print(f"`obskit slo explain` of all {len(slos)} SLOs as a fresh process: {wall:.0f} ms")


if __name__ == "__main__":
    main()
