"""CPU per OTLP/HTTP POST: upstream's ``requests`` transport against obskit's keep-alive one.

Run from the repository root::

    python benchmarks/bench_otlp_post.py              # 128-span batches (obskit's default)
    python benchmarks/bench_otlp_post.py --spans 72   # the batch a flush sends in bench_runtime

One exporter of each kind (both obskit's own exporter class, so the encoding is the same; one
with upstream's ``RequestsHTTPTransport`` put back) sends the same batch of server spans, made
by a real ``obskit.init()`` request path, to a receiver process on 127.0.0.1 (``_receiver.py``).
Each figure is the CPU time of this process (``time.process_time``: user + system, every thread)
per ``export()`` call, the minimum and the median of ``--rounds`` rounds of ``--posts`` calls,
the two transports alternating round by round; then the same for the encoding alone, so the
send is the difference.  The receiver's own CPU is not counted (another process).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _server_spans(count: int) -> list[Any]:
    """``count`` ended server spans from obskit's own request path (FastAPI, 1 route)."""
    import asyncio

    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import _apps
    from _timing import _drop, _receive, request_scope

    app = _apps.obskit_app("fastapi", 1, real_export=True)

    memory = InMemorySpanExporter()
    provider: Any = trace.get_tracer_provider()
    provider.add_span_processor(SimpleSpanProcessor(memory))

    async def run() -> None:
        for _ in range(count):
            await app(request_scope(), _receive, _drop)

    asyncio.run(run())
    provider.force_flush()
    return list(memory.get_finished_spans())[:count]


def main() -> None:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=128)
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()

    from _receiver import Receiver

    with Receiver() as receiver:
        receiver.use_in_this_process()
        real_stdout = sys.stdout
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the access lines)
        spans = _server_spans(args.spans)
        sys.stdout = real_stdout

        from opentelemetry.exporter.http.transport._requests import RequestsHTTPTransport

        from obskit._runtime.tracing.otlp import encode_request, make_exporter

        url = f"{receiver.endpoint}/v1/traces"
        keepalive = make_exporter(lambda exc: None, endpoint=url, timeout=10)
        upstream = make_exporter(lambda exc: None, endpoint=url, timeout=10)
        upstream._client._transport = RequestsHTTPTransport()
        upstream.transport = None
        assert keepalive.transport is not None, keepalive.transport_kept

        def per_call(call: Any) -> float:
            started = time.process_time()
            for _ in range(args.posts):
                call()
            return (time.process_time() - started) / args.posts * 1e6

        samples: dict[str, list[float]] = {"requests": [], "keep-alive": [], "encoding": []}
        for exporter in (upstream, keepalive):  # warm-up: connections open, caches filled
            exporter.export(spans)
        for _ in range(args.rounds):
            samples["requests"].append(per_call(lambda: upstream.export(spans)))
            samples["keep-alive"].append(per_call(lambda: keepalive.export(spans)))
            samples["encoding"].append(per_call(lambda: encode_request(spans)))
        stats = receiver.stats()
        import obskit

        obskit.shutdown()  # its last spans exported while the receiver still listens

    load = Path("/proc/loadavg").read_text().split()[:3]
    print(
        f"CPU µs per export() of {args.spans} server spans (min / median of {args.rounds} "
        f"rounds x {args.posts}); load average {' '.join(load)}"
    )
    enc_min = min(samples["encoding"])
    enc_med = statistics.median(samples["encoding"])
    for name in ("requests", "keep-alive"):
        low, mid = min(samples[name]), statistics.median(samples[name])
        print(
            f"  {name:<11} encode + send {low:8.0f} / {mid:8.0f}   "
            f"send alone {low - enc_min:8.0f} / {mid - enc_med:8.0f}"
        )
    print(f"  encoding alone            {enc_min:8.0f} / {enc_med:8.0f}")
    print(
        f"receiver: {stats['requests']} requests, {stats['spans']} spans, {stats['errors']} errors"
    )


if __name__ == "__main__":
    main()
