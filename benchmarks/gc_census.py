"""What a request leaves for the garbage collector: promotions to the old generation and cycles.

Run from the repository root::

    python benchmarks/gc_census.py                    # obskit, sampled, real OTLP export
    python benchmarks/gc_census.py --variant bare     # the bare FastAPI app
    OBSKIT_GC_FREEZE=false python benchmarks/gc_census.py   # obskit without its heap freeze
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE=512 python benchmarks/gc_census.py   # the SDK's batch size

The FastAPI app of ``bench_runtime.py`` is called in-process (exporting to a receiver process),
after the ASGI lifespan startup a server runs (where obskit freezes the application's start-up
heap).  First, the heap a full collection traverses once the app is up: the tracked objects
(``len(gc.get_objects())``, frozen ones excluded), the frozen ones, and the CPU time of one full
collection (the minimum of ``--full-collections`` ``gc.collect()`` calls: load-independent
enough to compare variants on a shared machine).  Then the census proper: after a warm-up,
``gc.collect()`` and ``gc.freeze()`` (so start-up objects are out of the way),
``--requests`` requests run while a ``gc.callbacks`` hook counts, at the start of every
generation-1 or -2 collection, the objects of generations 0 and 1 by type: what that collection
moves to the old generation if still alive.  Then ``gc.DEBUG_SAVEALL`` over ``--cycle-requests``
more requests counts the objects found only in reference cycles.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


async def lifespan(app: Any) -> None:
    """The ASGI lifespan a server runs around serving: startup, then (here, at once) shutdown."""
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"], sent


def full_collection(repeats: int) -> dict[str, Any]:
    """The heap a full collection traverses now, and its CPU time (minimum of ``repeats``)."""
    gc.collect()
    times = []
    for _ in range(repeats):
        started = time.thread_time_ns()
        gc.collect()
        times.append(time.thread_time_ns() - started)
    return {
        "tracked": len(gc.get_objects()),
        "frozen": gc.get_freeze_count(),
        "cpu_ms": min(times) / 1e6,
    }


def main() -> None:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=("obskit", "bare"), default="obskit")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--cycle-requests", type=int, default=3_000)
    parser.add_argument("--full-collections", type=int, default=30)
    args = parser.parse_args()

    from _receiver import Receiver

    with Receiver() as receiver:
        os.environ.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OBSKIT_METRICS_PORT="0",
            OBSKIT_LOG_FORMAT="json",
            OTEL_SERVICE_NAME="bench",
        )
        import _apps
        import _timing

        builder = "obskit-export" if args.variant == "obskit" else "bare"
        real_stdout = sys.stdout
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the access lines, for the whole run)
        app = _apps.BUILDERS[builder]("fastapi", 1)
        template = _timing.request_scope()

        async def run(n: int) -> None:
            for _ in range(n):
                await app(dict(template), _timing._receive, _timing._drop)

        asyncio.run(lifespan(app))
        asyncio.run(run(2_000))
        heap = full_collection(args.full_collections)
        gc.collect()
        gc.freeze()
        census: Counter[str] = Counter()
        collections = [0, 0, 0]

        def hook(phase: str, info: dict[str, int]) -> None:
            if phase != "start":
                return
            collections[info["generation"]] += 1
            if info["generation"] >= 1:
                for generation in (0, 1):
                    census.update(type(o).__qualname__ for o in gc.get_objects(generation))

        gc.callbacks.append(hook)
        asyncio.run(run(args.requests))
        gc.callbacks.remove(hook)
        gc.unfreeze()

        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        asyncio.run(run(args.cycle_requests))
        gc.collect()
        cycles = Counter(type(o).__qualname__ for o in gc.garbage)
        gc.set_debug(0)
        gc.garbage.clear()
        if args.variant != "bare":
            _apps.flush_spans()  # before the receiver stops
        sys.stdout = real_stdout
        received = receiver.stats()

    print(
        f"{args.variant} (OBSKIT_GC_FREEZE={os.environ.get('OBSKIT_GC_FREEZE', 'default')}): "
        f"after start-up, a full collection traverses {heap['tracked']} objects "
        f"({heap['frozen']} frozen), {heap['cpu_ms']:.2f} ms of CPU (min of "
        f"{args.full_collections})"
    )
    promoted = sum(census.values())
    print(
        f"{args.variant}: {args.requests} requests, collections by generation {collections}; "
        f"objects in generations 0-1 when a generation-1/2 collection started: {promoted} "
        f"({promoted / args.requests:.2f} per request)"
    )
    for name, count in census.most_common(12):
        print(f"  {count:8d}  {name}")
    found = sum(cycles.values())
    print(
        f"reference cycles over {args.cycle_requests} requests: {found} objects "
        f"({found / args.cycle_requests:.3f} per request) {cycles.most_common(6)}"
    )
    print(f"receiver: {received['spans']} spans in {received['requests']} exports")


if __name__ == "__main__":
    main()
