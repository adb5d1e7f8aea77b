"""Timing loops: ASGI requests called in-process, and log lines.

A request is one call of the ASGI app with a prepared ``http`` scope, a ``receive`` that returns
an empty body and a ``send`` that drops the messages — no sockets, no server, so what is measured
is the framework plus the instrumentation.  Requests run in batches; each batch's mean is one
sample, and the median of the samples is reported (robust to a noisy neighbour on the CPU).
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any

from _apps import REQUEST_PATH, ASGIApp, Message, Scope

#: ``BENCH_CLOCK=cpu`` (``bench_runtime.py --clock cpu``): time batches in CPU time of the whole
#: process (every thread: the export thread's work included) instead of wall-clock time, so time
#: spent waiting for a CPU on a loaded machine is not counted.  A flush's wait for the receiver
#: (another process) is then not counted either, only the CPU the export costs here.
CLOCK = os.environ.get("BENCH_CLOCK", "wall")
_clock = time.process_time_ns if CLOCK == "cpu" else perf_counter_ns


@dataclass(frozen=True)
class Plan:
    """How much to run: warm-up calls, then ``batches`` x ``batch_size`` timed calls."""

    warmup: int
    batches: int
    batch_size: int


FULL = Plan(warmup=500, batches=60, batch_size=200)
QUICK = Plan(warmup=100, batches=8, batch_size=100)


@dataclass(frozen=True)
class Timing:
    """Median, quartiles and mean (µs per call) over the batch means, and the calls timed.

    The median is robust to a noisy neighbour on the CPU; the mean also charges the rare
    expensive batches (e.g. a span exporter's burst on the GIL) in full, so both are reported.
    """

    median_us: float
    p25_us: float
    p75_us: float
    calls: int
    mean_us: float

    def as_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {
            "median_us": self.median_us,
            "p25_us": self.p25_us,
            "p75_us": self.p75_us,
            "calls": self.calls,
            "mean_us": self.mean_us,
        }


def _summary(samples: list[float], calls: int) -> Timing:
    quartiles = statistics.quantiles(samples, n=4) if len(samples) > 1 else samples * 3
    return Timing(
        statistics.median(samples), quartiles[0], quartiles[2], calls, statistics.fmean(samples)
    )


def request_scope(path: str = REQUEST_PATH) -> Scope:
    """An HTTP/1.1 GET scope as uvicorn would build it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"bench/1.0"),
            (b"accept", b"*/*"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


_BODY: Message = {"type": "http.request", "body": b"", "more_body": False}


async def _receive() -> Message:
    return _BODY


async def _drop(message: Message) -> None:
    return None


async def _first_status(app: ASGIApp, template: Scope) -> None:
    statuses: list[int] = []

    async def check(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(dict(template), _receive, check)
    if statuses != [200]:
        raise RuntimeError(f"the benchmark request answered {statuses}, not [200]")


async def _batch(
    app: ASGIApp, template: Scope, size: int, flush: Callable[[], Any] | None = None
) -> float:
    """Mean µs per request over ``size`` consecutive requests; with ``flush``, the timed window
    ends when ``flush()`` returns (the batch's spans exported: their cost charged to it)."""
    started = _clock()
    for _ in range(size):
        await app(dict(template), _receive, _drop)
    if flush is not None:
        flush()
    return (_clock() - started) / size / 1000


def time_asgi(app: ASGIApp, plan: Plan) -> Timing:
    """Time ``app`` per request; the first request must answer 200 (the route really matched)."""
    template = request_scope()

    async def run() -> list[float]:
        await _first_status(app, template)
        await _batch(app, template, plan.warmup)
        gc.collect()
        return [await _batch(app, template, plan.batch_size) for _ in range(plan.batches)]

    return _summary(asyncio.run(run()), plan.batches * plan.batch_size)


def time_asgi_pair(
    bare: ASGIApp, app: ASGIApp, plan: Plan, flush: Callable[[], Any] | None = None
) -> tuple[Timing, Timing, Timing]:
    """Time ``bare`` and ``app`` in alternating batches; return both timings and the overhead.

    The overhead samples are the differences of adjacent batches (the order alternates), so a
    burst of load from another process on the machine inflates both sides of a pair instead of
    one variant's whole run.  ``flush`` (if given) ends every batch of ``app``, inside its timed
    window, and runs once after the warm-up.
    """
    template = request_scope()

    async def run() -> tuple[list[float], list[float]]:
        await _first_status(bare, template)
        await _first_status(app, template)
        await _batch(bare, template, plan.warmup)
        await _batch(app, template, plan.warmup, flush)
        gc.collect()
        bare_samples, app_samples = [], []
        for i in range(plan.batches):
            if i % 2:
                app_samples.append(await _batch(app, template, plan.batch_size, flush))
                bare_samples.append(await _batch(bare, template, plan.batch_size))
            else:
                bare_samples.append(await _batch(bare, template, plan.batch_size))
                app_samples.append(await _batch(app, template, plan.batch_size, flush))
        return bare_samples, app_samples

    bare_samples, app_samples = asyncio.run(run())
    calls = plan.batches * plan.batch_size
    overhead = [a - b for a, b in zip(app_samples, bare_samples, strict=True)]
    return _summary(bare_samples, calls), _summary(app_samples, calls), _summary(overhead, calls)


def time_calls(call: Callable[[int], Any], plan: Plan, *, scale: int = 5) -> Timing:
    """Time ``call(i)`` (a log line); batches are ``scale`` times larger than for requests."""
    for i in range(plan.warmup * scale):
        call(i)
    gc.collect()
    samples = []
    size = plan.batch_size * scale
    for _ in range(plan.batches):
        started = _clock()
        for i in range(size):
            call(i)
        samples.append((_clock() - started) / size / 1000)
    return _summary(samples, plan.batches * size)


def call_asgi(app: ASGIApp, scope: Scope) -> tuple[int, bytes]:
    """Call ``app`` once with ``scope``; return the status and body (for sanity checks)."""
    status = 0
    body = b""

    async def collect(message: Message) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    asyncio.run(app(scope, _receive, collect))  # type: ignore[arg-type]
    return status, body
