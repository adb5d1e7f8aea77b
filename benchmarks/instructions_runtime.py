"""Requests through obskit's instrumented Starlette app, for counting CPU instructions per request.

Wall-clock benchmarks on a shared, loaded machine cannot resolve a 1 µs change; instruction
counts under valgrind do not depend on the load.  Count two runs and divide the difference::

    export PYTHONHASHSEED=0 OBSKIT_METRICS_PORT=0 OBSKIT_LOG_FORMAT=json OTEL_SERVICE_NAME=bench
    for n in 512 4608; do
      valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        python benchmarks/instructions_runtime.py $n > /dev/null
    done
    # instructions per request = (I refs at 4608 - I refs at 512) / 4096

Multiples of the batch size (512) keep the spans exported at exit the same in both runs; set
``OTEL_TRACES_SAMPLER=always_off`` for the unsampled path.  The app and request are the ones
``bench_runtime.py`` times (its OTLP send is stubbed out; encoding still runs).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _apps import obskit_app
from _timing import _drop, _receive, request_scope


def main() -> None:
    """Serve ``argv[1]`` requests in-process."""
    count = int(sys.argv[1])
    app = obskit_app("starlette", 1)
    template = request_scope()

    async def run() -> None:
        for _ in range(count):
            await app(dict(template), _receive, _drop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
