"""What requests through a real instrumented app leave to the garbage collector, and the
start-up heap freeze of ``init()``.

Each test runs in a fresh interpreter (``init()`` and ``gc.freeze()`` are process-wide): the real
``obskit.init()`` (sampled, spans exported over OTLP/HTTP to a receiver on 127.0.0.1), a
Starlette app auto-instrumented by it, called in-process through ASGI.  Long full collections
were issue #10's tail-latency problem: these tests pin what keeps them away — no reference cycle
per request, almost nothing promoted to the old generation, and obskit's start-up heap out of
the full collection's reach (benchmarks/README.md, "Soak").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.support._otlp import OtlpReceiver

from obskit._runtime.tracing.setup import DROPPED_WARNING

from .conftest import run_python

#: The child's prelude: init(), the app, and ``serve(n)`` running n requests through ASGI.
_PRELUDE = """
import asyncio, gc, json, os, sys
import obskit
from obskit._runtime.lifecycle import flush
obskit.init("gc-test", **INIT_ARGS)
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

async def item(request):
    return PlainTextResponse("ok")

async def cyclic(request):
    knot = {}
    knot["self"] = knot  # a reference cycle made by the application, on purpose
    return PlainTextResponse("knot")

app = Starlette(routes=[Route("/items/{item_id}", item), Route("/cyclic", cyclic)])

def scope(path):
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
            "root_path": "", "query_string": b"", "headers": [(b"host", b"t")],
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}

async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}

statuses = []
async def send(message):
    if message["type"] == "http.response.start":
        statuses.append(message["status"])

async def _serve(n, path):
    for i in range(n):
        await app(scope(path.format(i=i)), receive, send)

def serve(n, path="/items/{i}"):
    asyncio.run(_serve(n, path))

def report(**figures):
    print("RESULT " + json.dumps(figures), flush=True)
"""


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP trace receiver on a free loopback port."""
    with OtlpReceiver() as receiver:
        yield receiver


def _run(code: str, receiver: OtlpReceiver, env: dict[str, str] | None = None,
         init_args: str = "{}") -> dict[str, Any]:  # fmt: skip
    """Run the prelude and ``code`` in a fresh interpreter; ``code`` calls ``report()`` once."""
    full_env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OBSKIT_LOG_FORMAT": "json",
        "OBSKIT_ACCESS_LOG": "false",
        "OBSKIT_INSTRUMENT_LIBRARIES": "false",
        # flush() waits at most this long: on a loaded machine 5 s (the default) may not be
        # enough to export thousands of spans, and what stays queued would look like a leak.
        "OBSKIT_SHUTDOWN_TIMEOUT": "60",
    }
    full_env.update(env or {})
    proc = run_python(f"INIT_ARGS = {init_args}\n" + _PRELUDE + code, env=full_env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reported = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert len(reported) == 1, proc.stdout[-3000:]
    result: dict[str, Any] = json.loads(reported[0].removeprefix("RESULT "))
    result["stdout"] = proc.stdout
    return result


def test_requests_make_no_reference_cycles(otlp_receiver: OtlpReceiver) -> None:
    """With automatic collection off during 2,000 sampled requests and their export, a full
    collection afterwards finds nothing: obskit creates no reference cycle per request (a cycle
    is freed only by the cyclic collector, a pause).  The same measurement does see the one
    cycle a deliberately cyclic route makes, so it is not blind."""
    result = _run(
        """
serve(300)
flush()
gc.collect()
gc.disable()
gc.set_debug(gc.DEBUG_SAVEALL)
serve(2000)
flush()
found = gc.collect()
kinds = sorted({type(o).__qualname__ for o in gc.garbage})
gc.garbage.clear()
serve(1, "/cyclic")
control = gc.collect()
report(**{"found": found, "kinds": kinds, "control": control,
                  "ok": statuses.count(200)})
""",
        otlp_receiver,
    )
    assert result["ok"] == 2301
    assert result["found"] == 0, f"reference cycles left by requests: {result['kinds']}"
    assert result["control"] >= 1
    otlp_receiver.wait_for_total(2301, timeout=30)


def test_requests_leave_nothing_alive_and_unsampled_ones_promote_nothing(
    otlp_receiver: OtlpReceiver,
) -> None:
    """Sampled: after 5,000 requests with automatic collection off and their spans exported,
    the tracked heap has not grown (a leak of one object per request would be 5,000): a request
    leaves nothing alive but its queued span, until export.  Not sampled (no export queue):
    over 5,000 requests the young generations hold almost nothing when a generation-1 or -2
    collection starts (what it would move to the old generation), under 0.05 per request."""
    code = """
serve(500)
flush()
gc.collect()
gc.freeze()  # this test's own start-up out of the way: only what the requests make counts
before = len(gc.get_objects())
young_at_promotion = 0
collections = [0, 0, 0]
def census(phase, info):
    global young_at_promotion
    if phase == "start":
        collections[info["generation"]] += 1
        if info["generation"] >= 1:
            young_at_promotion += len(gc.get_objects(0)) + len(gc.get_objects(1))
if os.environ.get("COLLECT") == "off":
    gc.disable()
gc.callbacks.append(census)
serve(5000)
gc.callbacks.remove(census)
flush()
gc.collect()
after = len(gc.get_objects())
report(**{"promoted": young_at_promotion, "collections": collections,
          "growth": after - before, "ok": statuses.count(200)})
"""
    # The bounded export queue drops spans when requests outrun the export (by design, counted
    # and warned about): a queue for the whole run makes "every span exported" hold on a loaded
    # machine too, so that the heap is measured with the queue empty.
    sampled = _run(code, otlp_receiver, env={"COLLECT": "off", "OTEL_BSP_MAX_QUEUE_SIZE": "8192"})
    assert sampled["ok"] == 5500
    assert DROPPED_WARNING not in sampled["stdout"]
    assert sampled["collections"] == [0, 0, 0]
    assert sampled["growth"] < 500, sampled
    otlp_receiver.wait_for_total(5500, timeout=30)
    unsampled = _run(code, otlp_receiver, env={"OTEL_TRACES_SAMPLER": "always_off"})
    assert unsampled["ok"] == 5500
    assert unsampled["promoted"] / 5000 < 0.05, unsampled
    assert unsampled["growth"] < 500, unsampled


def test_init_freezes_its_start_up_heap_once_and_later_garbage_is_still_collected(
    otlp_receiver: OtlpReceiver,
) -> None:
    """By default ``init()`` ends with ``gc.collect()`` + ``gc.freeze()``: what it built (the
    OpenTelemetry SDK, protobuf, prometheus-client, structlog, obskit's state — tens of
    thousands of tracked objects) is no longer traversed by full collections.  Objects made
    afterwards are not frozen: requests do not add to the permanent generation, and a cycle made
    after ``init()`` is still collected.  The debug line reports the count."""
    result = _run(
        """
frozen = gc.get_freeze_count()
serve(1000)
flush()
serve(1, "/cyclic")
collected = gc.collect()
report(**{"frozen": frozen, "frozen_after": gc.get_freeze_count(),
                  "collected": collected})
""",
        otlp_receiver,
        env={"OBSKIT_LOG_LEVEL": "debug"},
    )
    assert result["frozen"] > 20_000
    # Requests add nothing to the permanent generation (frozen objects that lose their last
    # reference are still freed, so it may shrink).
    assert result["frozen_after"] <= result["frozen"]
    assert result["collected"] >= 1
    lines = [json.loads(x) for x in result["stdout"].splitlines() if x.startswith("{")]
    frozen_lines = [x for x in lines if x.get("event") == "start-up heap frozen"]
    assert len(frozen_lines) == 1
    # Counted when frozen: a few frozen objects (the logging call's own) are freed since.
    assert frozen_lines[0]["frozen_objects"] >= result["frozen"] > 20_000


def test_the_freeze_is_switched_off_by_variable_or_argument(otlp_receiver: OtlpReceiver) -> None:
    """``OBSKIT_GC_FREEZE=false`` or ``init(gc_freeze=False)``: nothing is frozen and the
    start-up heap stays tracked; a bad value gives one JSON warning naming the variable and the
    default (freeze) is used."""
    code = """
report(**{"frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())})
"""
    off = _run(code, otlp_receiver, env={"OBSKIT_GC_FREEZE": "false"})
    assert off["frozen"] == 0
    assert off["tracked"] > 20_000
    off_arg = _run(code, otlp_receiver, init_args="{'gc_freeze': False}")
    assert off_arg["frozen"] == 0
    bad = _run(code, otlp_receiver, env={"OBSKIT_GC_FREEZE": "sometimes"})
    assert bad["frozen"] > 20_000
    warnings = [
        json.loads(x)
        for x in bad["stdout"].splitlines()
        if x.startswith("{") and '"invalid setting"' in x
    ]
    assert [(w["variable"], w["value"], w["using"]) for w in warnings] == [
        ("OBSKIT_GC_FREEZE", "sometimes", "true")
    ]
