"""Where obskit's per-request time goes: cProfile of in-process requests with real export.

Run from the repository root::

    python benchmarks/profile_request.py                 # obskit, sampled, real OTLP export
    python benchmarks/profile_request.py --variant bare  # the bare FastAPI app, for reference
    python benchmarks/profile_request.py --sampler always_off

The FastAPI app of ``bench_runtime.py`` is called in-process (``_timing``'s prepared scope) for
``--requests`` requests after a warm-up, in batches of 200 each ending in a flush, with spans
exported over OTLP/HTTP to a receiver process; the top functions by own time (``tottime``) are
printed, then obskit's own functions by cumulative time.  cProfile adds a fixed cost per call,
so it over-weights code that makes many small calls: read the shares, not the absolute µs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> None:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=("obskit", "trio", "bare"), default="obskit")
    parser.add_argument("--sampler", default="parentbased_always_on")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    from _receiver import Receiver

    with Receiver() as receiver:
        receiver.use_in_this_process(OTEL_TRACES_SAMPLER=args.sampler)
        import _apps
        import _timing

        builder = {"obskit": "obskit-export", "trio": "trio-export", "bare": "bare"}[args.variant]
        real_stdout = sys.stdout
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the access lines, for the whole run)
        app = _apps.BUILDERS[builder]("fastapi", 1)
        flush = _apps.flush_spans if args.variant != "bare" else (lambda: None)
        template = _timing.request_scope()

        async def run(n: int) -> None:
            for i in range(n):
                await app(dict(template), _timing._receive, _timing._drop)
                if i % 200 == 199:
                    flush()
            flush()

        asyncio.run(run(2000))
        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(run(args.requests))
        profiler.disable()
        sys.stdout = real_stdout
        stats = receiver.stats()

    out = io.StringIO()
    ps = pstats.Stats(profiler, stream=out)
    total = ps.total_tt  # type: ignore[attr-defined]
    print(
        f"{args.variant} ({args.sampler}), {args.requests} requests: "
        f"{total / args.requests * 1e6:.1f} µs per request under cProfile; "
        f"receiver: {stats['spans']} spans in {stats['requests']} exports"
    )
    ps.sort_stats("tottime").print_stats(args.top)
    ps.sort_stats("cumulative").print_stats("obskit|exporter|sdk/trace|_shared_internal", args.top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
