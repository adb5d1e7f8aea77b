"""CPU time of obskit's request path and of one log line, for comparing two source trees.

``bench_runtime.py`` measures wall-clock overhead against a bare twin, which is the right figure
for users but moves by tens of µs when other processes share the machine.  This script answers a
narrower question — did a change make the hot path slower? — with CPU time
(``time.process_time``) of the middleware alone around a raw ASGI app (no framework), the
*minimum* batch mean over many batches, so load from other processes mostly drops out.  Run it
alternately against two trees and compare the minima:

```bash
git worktree add /tmp/base main    # or: git archive main src | tar -x -C /tmp/base
for i in 1 2 3 4; do
  PYTHONPATH=/tmp/base/src python benchmarks/bench_request_cpu.py   # the base
  python benchmarks/bench_request_cpu.py                            # this tree
done
```

Set-up: ``OBSKIT_METRICS_PORT=0``, JSON logs to ``/dev/null``, ``OTEL_TRACES_EXPORTER=none``
(spans are created, sampled and ended; the export thread's work is left out), a ``GET
/items/42?page=2`` request with a user agent and a route template in the scope.

Multi-worker mode (what gunicorn or ``uvicorn --workers`` get): set ``PROMETHEUS_MULTIPROC_DIR``
to an empty directory, e.g. ``PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) python
benchmarks/bench_request_cpu.py``; ``OTEL_TRACES_SAMPLER=always_off`` for the unsampled path.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import MutableMapping
from typing import Any, TextIO

_BATCH = 200
_BATCHES = 60


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def _send(message: MutableMapping[str, Any]) -> None:
    return None


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/items/42",
        "raw_path": b"/items/42",
        "query_string": b"page=2",
        "headers": [(b"host", b"x"), (b"user-agent", b"bench")],
        "scheme": "http",
        "http_version": "1.1",
        "client": ("127.0.0.1", 5000),
        "root_path": "",
        "route": "/items/{item_id}",
    }


def quiet_init(service: str) -> tuple[TextIO, Any]:
    """``obskit.init(service)`` as measured here (no metrics port, JSON lines, no exporter, no
    library instrumentation), every line written to /dev/null; returns the real stdout and the
    instrumented raw ASGI app."""
    os.environ.update(
        {
            "OBSKIT_METRICS_PORT": "0",
            "OBSKIT_LOG_FORMAT": "json",
            "OTEL_TRACES_EXPORTER": "none",
            "OBSKIT_INSTRUMENT_LIBRARIES": "false",
        }
    )
    out = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - every access and log line goes here
    import obskit

    obskit.init(service)
    return out, obskit.instrument(_app)


async def request_batch(app: Any, size: int = _BATCH) -> float:
    """CPU µs per request over ``size`` requests through ``app``."""
    started = time.process_time()
    for _ in range(size):
        await app(_scope(), _receive, _send)
    return (time.process_time() - started) / size * 1e6


def main() -> None:
    out, app = quiet_init("bench-cpu")
    import obskit

    log = obskit.get_logger("bench")

    def lines() -> float:
        started = time.process_time()
        for i in range(_BATCH):
            log.info("order placed", order_id=i, amount=12.5)
        return (time.process_time() - started) / _BATCH * 1e6

    async def run() -> dict[str, Any]:
        for _ in range(20):  # warm-up
            await request_batch(app)
        req = [await request_batch(app) for _ in range(_BATCHES)]
        log_lines = [lines() for _ in range(_BATCHES)]
        return {
            "obskit": os.path.dirname(obskit.__file__),
            "request_cpu_us_min": round(min(req), 2),
            "request_cpu_us_median": round(statistics.median(req), 2),
            "log_line_cpu_us_min": round(min(log_lines), 2),
            "log_line_cpu_us_median": round(statistics.median(log_lines), 2),
        }

    out.write(json.dumps(asyncio.run(run())) + "\n")


if __name__ == "__main__":
    main()
