"""Where obskit's unsampled request time goes: CPU time per request with its parts switched off.

Run from the repository root::

    python benchmarks/bench_unsampled_parts.py            # three rounds (about a minute)
    python benchmarks/bench_unsampled_parts.py --rounds 5

``bench_runtime.py`` gives the goal's figure (overhead ÷ the bare app's time, not sampled); this
script splits that overhead.  In one process (``OTEL_TRACES_SAMPLER=always_off``, JSON logs to
``/dev/null``, ``OBSKIT_METRICS_PORT=0``) it times the benchmark's Starlette app (1 route) and a
trivial raw ASGI app under ``obskit.instrument`` with, cumulatively: everything on; the access
line off (``OBSKIT_ACCESS_LOG=false``'s switch); the histogram observation off; the tracer off
(no span, no ids, no context).  The raw app shows obskit's own cost with almost no framework
around it; the difference between the two columns is what obskit costs *inside* Starlette
beyond that (the framework's code and obskit's sharing the CPU's caches and branch predictors).

Each figure is the 5th-smallest of 60 batch means (200 requests each) of the process's CPU time
(``time.process_time_ns``), the configurations interleaved round by round and the minimum over
rounds kept, so load from other processes mostly drops out.  Switching a part off by hand is a
benchmark's liberty (the toggles are obskit's private state): no test relies on it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

_BATCH = 200
_BATCHES = 60


async def _raw(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def main() -> None:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for key in [k for k in os.environ if k.startswith(("OTEL_", "OBSKIT_"))]:
        del os.environ[key]
    os.environ.update(
        OBSKIT_METRICS_PORT="0",
        OBSKIT_LOG_FORMAT="json",
        OTEL_SERVICE_NAME="bench",
        OTEL_TRACES_SAMPLER="always_off",
    )
    out = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the access lines, for the whole run
    import _apps
    import _timing

    bare = _apps.bare("starlette", 1)
    _timing.call_asgi(bare, _timing.request_scope())
    import obskit
    from obskit._runtime import state as _state

    obskit.init("bench")
    app = _apps.bare("starlette", 1)
    _timing.call_asgi(app, _timing.request_scope())
    raw = obskit.instrument(_raw)
    st: Any = _state.STATE
    scope = _timing.request_scope()
    raw_scope = dict(scope, route=_apps.ROUTE_TEMPLATE)
    observe, tracer = st.metrics.observe_http, st.tracer

    async def batch(target: Any, template: dict[str, Any]) -> float:
        started = time.process_time_ns()
        for _ in range(_BATCH):
            await target(dict(template), _timing._receive, _timing._drop)
        return (time.process_time_ns() - started) / _BATCH / 1000

    async def measure(target: Any, template: dict[str, Any]) -> float:
        samples = sorted([await batch(target, template) for _ in range(_BATCHES)])
        return samples[4]

    def configure(access: bool, histogram: bool, tracing: bool) -> None:
        st.access_log = access
        if histogram:
            st.metrics.observe_http = observe
        else:
            st.metrics.observe_http = lambda *args: None
        st.tracer = tracer if tracing else None

    configs = {
        "everything on": (True, True, True),
        "access line off": (False, True, True),
        "  + histogram off": (False, False, True),
        "  + tracer off": (False, False, False),
    }

    async def run() -> dict[str, tuple[float, float]]:
        for _ in range(10):  # warm-up
            await batch(app, scope)
            await batch(bare, scope)
            await batch(raw, raw_scope)
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.rounds):
            rows = {"bare app": (await measure(bare, scope), await measure(_raw, raw_scope))}
            for name, flags in configs.items():
                configure(*flags)
                rows[name] = (await measure(app, scope), await measure(raw, raw_scope))
            configure(True, True, True)
            for name, (a, b) in rows.items():
                old = best.get(name, (float("inf"), float("inf")))
                best[name] = (min(old[0], a), min(old[1], b))
        return best

    load_before = Path("/proc/loadavg").read_text().split()[:3]
    best = asyncio.run(run())
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    bare_starlette, bare_raw = best["bare app"]
    full_starlette, full_raw = best["everything on"]
    lines = [
        "obskit, not sampled: CPU µs per request (5th-smallest of 60 batch means, min over "
        f"{args.rounds} rounds); load average before {' '.join(load_before)}, "
        f"after {' '.join(load_after)}",
        f"{'configuration':<22}{'starlette':>11}{'raw ASGI':>10}",
    ]
    for name, (a, b) in best.items():
        lines.append(f"{name:<22}{a:>11.2f}{b:>10.2f}")
    names = list(best)
    lines += ["", f"{'part (difference of the rows above)':<40}{'starlette':>11}{'raw ASGI':>10}"]
    for i, part in enumerate(("access line", "histogram", "span, ids, context")):
        a0, b0 = best[names[i + 1]]
        a1, b1 = best[names[i + 2]]
        lines.append(f"{part:<40}{a0 - a1:>11.2f}{b0 - b1:>10.2f}")
    base_s, base_r = best[names[-1]]
    lines.append(
        f"{'the rest (record, gauge, send, route)':<40}"
        f"{base_s - bare_starlette:>11.2f}{base_r - bare_raw:>10.2f}"
    )
    overhead_s, overhead_r = full_starlette - bare_starlette, full_raw - bare_raw
    lines += [
        f"{'overhead (everything on - bare)':<40}{overhead_s:>11.2f}{overhead_r:>10.2f}",
        f"overhead ÷ bare Starlette app's time: {overhead_s / bare_starlette:.2f} (goal ≤ 1); "
        f"obskit costs {overhead_s - overhead_r:+.2f} µs more around Starlette than around a "
        "raw app",
    ]
    out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
