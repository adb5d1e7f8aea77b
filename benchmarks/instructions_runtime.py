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

``instructions_runtime.py N fastapi-export`` runs the real-export row instead: the FastAPI app,
every span posted over OTLP/HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (start ``python
benchmarks/_receiver.py`` first: it prints its port; valgrind does not follow it), a flush every
200 requests; count N = 600 and 3000 and divide the difference by 2400.  ``fastapi-bare`` and
``fastapi-pfi`` give the bare app and prometheus-fastapi-instrumentator for reference.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _apps
from _timing import _drop, _receive, request_scope


def main() -> None:
    """Serve ``argv[1]`` requests in-process (``argv[2]``: the variant, see the docstring)."""
    count = int(sys.argv[1])
    variant = sys.argv[2] if len(sys.argv) > 2 else "starlette"
    flush = None
    if variant == "fastapi-export":
        app = _apps.obskit_app("fastapi", 1, real_export=True)
        flush = _apps.flush_spans
    elif variant == "fastapi-bare":
        app = _apps.bare("fastapi", 1)
    elif variant == "fastapi-pfi":
        app = _apps.prometheus_instrumentator("fastapi", 1)
    else:
        app = _apps.obskit_app("starlette", 1)
    template = request_scope()

    async def run() -> None:
        for i in range(count):
            await app(dict(template), _receive, _drop)
            if flush is not None and i % 200 == 199:
                flush()

    asyncio.run(run())


if __name__ == "__main__":
    main()
