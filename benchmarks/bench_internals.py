"""What each private internal buys: CPU µs per request with its fast path on and switched off.

obskit's fast paths that use a dependency's private internals (``docs/runtime.md``, "Private
internals") each have a public-API fallback, which ``obskit._runtime.selftest`` switches to when the
internal fails its check at ``init()``.  This script measures, in one process, the request path
(the same raw-ASGI request as ``bench_request_cpu.py``: CPU time, the minimum batch mean of
interleaved batches) with every fast path on, and with each one switched to its fallback in
turn; the difference is what that internal buys per request.  The OTLP encoder runs on the
export thread, not in the request: it is measured per span (a batch of the spans these requests
made, encoded by obskit's writer and by the official encoder).  It also times the self-test
itself (``_selftest.run``), the cost ``init()`` pays once.

    python benchmarks/bench_internals.py            # JSON on stdout
    OTEL_TRACES_SAMPLER=always_off python benchmarks/bench_internals.py   # unsampled requests
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_request_cpu import _receive, _scope, _send, quiet_init, request_batch

_BATCH = 200
_ROUNDS = 40


def _toggles(st: Any) -> dict[str, tuple[Callable[[], None], Callable[[], None]]]:
    """name -> (switch to the public API, switch back) for each fast path on the request path."""
    from obskit._runtime import context
    from obskit._runtime.logs import bindings

    spans, bound, var = st.server_spans, bindings._BOUND_VARS, context.CONTEXT_VAR

    def set_bound(value: Any) -> Callable[[], None]:
        return lambda: setattr(bindings, "_BOUND_VARS", value)

    return {
        "server span": (
            lambda: setattr(st, "server_spans", None),
            lambda: setattr(st, "server_spans", spans),
        ),
        "histogram": (
            lambda: setattr(st.metrics, "fast_observe", False),
            lambda: setattr(st.metrics, "fast_observe", True),
        ),
        "structlog contextvars": (set_bound(None), set_bound(bound)),
        "OTel context": (context.use_public_api, lambda: setattr(context, "CONTEXT_VAR", var)),
    }


def main() -> None:
    out, app = quiet_init("bench-internals")
    from obskit._runtime import selftest as _selftest
    from obskit._runtime import state as _state

    st = _state.STATE
    assert st is not None

    async def run() -> dict[str, Any]:
        toggles = _toggles(st)
        for _ in range(20):
            await request_batch(app)
        fast: list[float] = []
        public: dict[str, list[float]] = {name: [] for name in toggles}
        for _ in range(_ROUNDS):  # interleaved: load from other processes hits both alike
            fast.append(await request_batch(app))
            for name, (off, on) in toggles.items():
                off()
                public[name].append(await request_batch(app))
                on()
        result: dict[str, Any] = {"request_cpu_us_all_fast": round(min(fast), 2)}
        for name, times in public.items():
            result[f"request_cpu_us_{name.replace(' ', '_')}_public"] = round(min(times), 2)
            result[f"buys_us_{name.replace(' ', '_')}"] = round(min(times) - min(fast), 2)
        return result

    result = asyncio.run(run())
    result.update(_encoding(st, app))
    result.update(_log_calls(st))
    runs = timeit.repeat(lambda: _selftest.run(st), number=1, repeat=30)
    result["selftest_us_min"] = round(min(runs) * 1e6)
    result["selftest_us_median"] = round(sorted(runs)[len(runs) // 2] * 1e6)
    out.write(json.dumps(result) + "\n")


def _log_calls(st: Any) -> dict[str, float]:
    """µs per structlog call through obskit, with the ``%`` guard done by obskit's
    ``wrapper_class`` (what obskit uses) and by the private route it replaced (structlog's own
    filtering logger with ``structlog._native._maybe_interpolate`` swapped for a guarded copy,
    rebuilt here only to measure it).  Interleaved rounds, CPU time, minimum per call."""
    import structlog
    from structlog import _native

    from obskit._runtime.logs.wrapper import interpolate, safe_bound_logger

    original = _native._maybe_interpolate

    def guarded(event: Any, args: tuple[Any, ...]) -> Any:
        if not args:
            return event
        return interpolate(event, args)

    level = st.pipeline.level
    classes = {
        "wrapper": safe_bound_logger(level),
        "private": structlog.make_filtering_bound_logger(level),
    }
    calls: dict[str, Callable[[Any], Any]] = {
        "args": lambda log: log.info("%s items", "a"),
        "no_args": lambda log: log.info("plain", k=1),
    }
    best: dict[str, float] = {}
    try:
        for _ in range(7):
            for name, cls in classes.items():
                _native._maybe_interpolate = guarded if name == "private" else original  # type: ignore[assignment]
                structlog.configure(wrapper_class=cls)
                log = structlog.get_logger("bench").bind()
                for call_name, call in calls.items():
                    timer = timeit.Timer(functools.partial(call, log), timer=time.process_time)
                    per_call = timer.timeit(number=5000) / 5000 * 1e6
                    key = f"log_call_us_{call_name}_{name}"
                    best[key] = min(best.get(key, per_call), per_call)
    finally:
        _native._maybe_interpolate = original  # type: ignore[assignment]
        structlog.configure(wrapper_class=safe_bound_logger(level))
    result = {k: round(v, 2) for k, v in sorted(best.items())}
    for call_name in calls:
        result[f"buys_us_structlog_private_interpolate_{call_name}"] = round(
            best[f"log_call_us_{call_name}_wrapper"] - best[f"log_call_us_{call_name}_private"], 2
        )
    return result


def _encoding(st: Any, app: Any) -> dict[str, float]:
    """µs per span of obskit's OTLP writer and of the official encoder (128 server spans)."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from obskit._runtime.tracing.otlp import encode_request, official_request

    memory = InMemorySpanExporter()
    st.provider.add_span_processor(SimpleSpanProcessor(memory))

    async def requests() -> None:
        for _ in range(128):
            await app(_scope(), _receive, _send)

    asyncio.run(requests())
    spans = list(memory.get_finished_spans())
    n = len(spans)
    if not n:  # OTEL_TRACES_SAMPLER=always_off: no span to encode
        return {}
    ours = min(timeit.repeat(lambda: encode_request(spans), number=5, repeat=7)) / 5 / n
    official = min(timeit.repeat(lambda: official_request(spans), number=5, repeat=7)) / 5 / n
    return {
        "encode_us_per_span_obskit": round(ours * 1e6, 2),
        "encode_us_per_span_official": round(official * 1e6, 2),
    }


if __name__ == "__main__":
    main()
