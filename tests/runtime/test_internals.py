"""Every private internal obskit uses can disappear and the service stays correct.

Each case runs a real service in its own interpreter (``_internals_service.py``, with the breaks
of ``_internals_more.py`` added: Starlette, ``obskit.init()``, one request through the app, spans
exported over OTLP/HTTP to a receiver on 127.0.0.1) after breaking one internal the way an
upstream release would — gone for obskit's code only (``_hide.py``: the dependency itself keeps
working), renamed silently (the dependency uses a new name, obskit's writes of the old one land
in an attribute nobody reads: ``_internals_more.rename``), a limit of another type, a map obskit
reads no longer filled, or obskit's OTLP writer raising — and checks that the request still gets
its span exported with every attribute, its histogram sample (with the trace-id exemplar), its
access and handler log lines (with the bound contextvar), and that exactly one JSON warning
names the internal for each fast path switched to the public API (none when nothing is broken).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from tests.support import OtlpReceiver, ReceivedSpan, parse_json_lines, run_python

from obskit import conventions as c
from obskit._runtime.internals import SELFTEST_WARNING
from obskit._runtime.tracing.setup import DROPPED_WARNING, ENCODE_WARNING, EXPORT_ERROR_WARNING

_SERVICE = Path(__file__).with_name("_internals_more.py")  # _internals_service.py's, and more
_ROUTE = "/items/{item_id}"

#: broken internal -> the fast paths the self-test must switch to the public API.
CASES: dict[str, set[str]] = {
    "BoundedAttributes._set_items": {"server span"},
    "BoundedAttributes._dict": {"server span"},
    "BoundedAttributes._immutable": {"server span"},
    "BoundedAttributes._lock": {"server span"},
    "Tracer._tracer_metrics": {"server span"},
    "Tracer._tracer_config": {"server span"},
    "Tracer._span_limits": {"server span"},
    "Tracer._instrumentation_scope": {"server span"},
    # Spans reach the exporter as the SDK's ReadableSpan copies: the writer is not affected.
    "Span._name": {"server span"},
    "Span._context": {"server span"},
    # Read by obskit's span and by the writer (and by the redacting exporter, which then uses
    # the public properties: the event's password is still redacted).
    "ReadableSpan._attributes": {"server span", "OTLP encoder"},
    "ReadableSpan._events": {"OTLP encoder"},
    "SynchronousMultiSpanProcessor._on_ending": {"server span"},
    "Histogram._sum": {"histogram"},
    "Histogram._buckets": {"histogram"},
    "Histogram._upper_bounds": {"histogram"},
    # Also where the keep-alive transport goes: upstream's requests transport sends.
    "OTLPSpanExporter._client": {"OTLP send", "OTLP transport"},
    "OTLPSpanExporter._metrics": {"OTLP send"},
    # Found missing at the first export (after the self-test): upstream's path from then on.
    "_OTLPHTTPClient.export": {"OTLP send"},
    # The result of _client.export() (its declared type is checked): upstream's export sends.
    "_ExportResult.success": {"OTLP send"},
    "_ExportResult.error": {"OTLP send"},
    # The keep-alive transport is not swapped in: upstream's requests transport sends.
    "_OTLPHTTPClient._transport": {"OTLP transport"},
    "OTLPSpanExporter._endpoint": {"OTLP transport"},
    "BatchSpanProcessor._batch_processor": {"batch processor"},
    "BatchProcessor._queue": {"batch processor"},
    # A limit missing or not a positive int: the SDK's own on_end (never read as 0, which
    # dropped every span as "queue full"); the hand-off batch size likewise.
    "BatchProcessor._max_queue_size": {"batch processor"},
    "BatchProcessor._max_queue_size not an int": {"batch processor"},
    "BatchProcessor._max_export_batch_size": {"batch processor"},
    "BatchProcessor.emit": {"batch processor"},
    # Checked when the exporter is made: upstream's export sends.
    "OTLPSpanExporter._shutdown": {"OTLP send"},
    "OTLPSpanExporter._max_request_size": {"OTLP send"},
    "OTLPSpanExporter._max_request_size not an int": {"OTLP send"},
    # Found by getattr: no fast field reads for that class (its spans never reach the exporter
    # through the SDK's processors, which hand them on as ReadableSpan copies); no warning.
    "sdk.trace._Span renamed": set(),
    # An SDK span field renamed upstream (the SDK's properties and methods use the new name,
    # obskit's span sets the old one): the self-test's span comparison (through the official
    # encoder, which reads the properties) fails, and so does the writer on the SDK's spans
    # for the fields it reads.
    "ReadableSpan._name renamed": {"server span", "OTLP encoder"},
    "ReadableSpan._context renamed": {"server span", "OTLP encoder"},
    "ReadableSpan._parent renamed": {"server span", "OTLP encoder"},
    "ReadableSpan._kind renamed": {"server span", "OTLP encoder"},
    "ReadableSpan._links renamed": {"server span", "OTLP encoder"},
    "ReadableSpan._status renamed": {"server span", "OTLP encoder"},
    "ReadableSpan._resource renamed": {"server span", "OTLP encoder"},
    "ReadableSpan._start_time renamed": {"server span", "OTLP encoder"},
    "ReadableSpan._end_time renamed": {"server span", "OTLP encoder"},
    "ReadableSpan._instrumentation_scope renamed": {"server span", "OTLP encoder"},
    "ReadableSpan._instrumentation_info renamed": {"server span"},
    "Span._limits renamed": {"server span"},
    "Span._lock renamed": {"server span"},
    # The SDK's add_event/add_link call their renamed method, which appends to the server
    # span's shared empty tuple: the self-test adds an event and a link.
    "Span._add_event renamed": {"server span"},
    "Span._add_link renamed": {"server span"},
    # No warning: without it the sampler is asked for every root span (same decision).
    "ParentBased._root": set(),
    # The ContextVar behind the API's runtime context: attach()/detach() serve instead.
    "ContextVarsRuntimeContext._current_context": {"OTel context"},
    # Never imported by name (the key is derived through the public API): nothing to switch.
    "propagation._SPAN_KEY": set(),
    "structlog _CONTEXT_VARS moved": {"structlog contextvars"},
    "structlog _CONTEXT_VARS removed": {"structlog contextvars"},
    "OTLP writer raises": {"OTLP encoder"},
}


#: What a warning's ``error`` names when it is not the broken attribute itself.
_ERROR_NAMES: dict[str, str] = {
    "Span._add_event renamed": "append",
    "Span._add_link renamed": "append",
}


def _python(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in a clean environment with ``env`` and no metrics port; it must exit 0
    (its stderr is the failure message)."""
    proc = run_python(*args, env={"OBSKIT_METRICS_PORT": "0", **env}, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc


def _json_records(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """Every stdout line of ``proc`` as a JSON object (a line that is not one fails the test)."""
    records, bad = parse_json_lines(proc.stdout.splitlines())
    assert not bad, bad
    return records


def _run(receiver: OtlpReceiver, broken: str, **env: str) -> tuple[list[dict[str, Any]], str]:
    """Run the service with ``broken``; its JSON log records and its OpenMetrics exposition."""
    proc = _python(
        str(_SERVICE),
        timeout=120,
        OBSKIT_LOG_FORMAT="json",
        OBSKIT_INSTRUMENT_LIBRARIES="false",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="50",
        OBSKIT_TEST_BREAK=broken,
        PYTHONPATH=os.pathsep.join([str(_SERVICE.parent), str(_SERVICE.parents[2])]),
        **env,
    )
    records = _json_records(proc)
    assert not proc.stderr.strip(), proc.stderr
    [exposition] = [r["exposition"] for r in records if "exposition" in r]
    return [r for r in records if "exposition" not in r], exposition


def _served(broken: str, **env: str) -> tuple[list[dict[str, Any]], str, ReceivedSpan]:
    """Serve the one request with ``broken``: its log records, exposition and exported span."""
    with OtlpReceiver() as receiver:
        records, exposition = _run(receiver, broken, **env)
        [span] = receiver.wait_for_total(1)
    return records, exposition, span


def _assert_served(records: list[dict[str, Any]], exposition: str, span: ReceivedSpan) -> None:
    """The request's span, histogram sample and log lines are all there and agree."""
    assert span.name == f"GET {_ROUTE}"
    assert span.kind == "SERVER"
    attrs = span.attributes
    assert attrs["http.request.method"] == "GET"
    assert attrs["url.path"] == "/items/7"
    assert attrs["http.route"] == _ROUTE
    assert attrs["http.response.status_code"] == 200
    assert attrs["user_agent.original"] == "internals-test"
    assert attrs["app.order"] == "o-1"
    assert span.resource["service.name"] == "internals"
    assert span.events == (("login", {"password": "[REDACTED]", "user": "ann"}),)
    [access] = [r for r in records if r.get("logger") == "obskit.access"]
    assert access["route"] == _ROUTE
    assert access["status"] == 200
    assert access["trace_id"] == span.trace_id
    assert access["span_id"] == span.span_id
    assert access["order"] == "o-1"  # the bound contextvar
    [handled] = [r for r in records if r.get("event") == "handled"]
    assert handled["trace_id"] == span.trace_id
    assert handled["item"] == "7"
    assert handled["order"] == "o-1"
    count = None
    exemplars = []
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.labels.get(c.LABEL_ROUTE) != _ROUTE:
                continue
            if sample.name == c.HTTP_DURATION_COUNT:
                count = sample.value
            if sample.name == c.HTTP_DURATION_BUCKET and sample.exemplar is not None:
                exemplars.append(sample.exemplar.labels[c.EXEMPLAR_TRACE_ID])
    assert count == 1
    assert exemplars == [span.trace_id]


def _selftest_warnings(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("event") == SELFTEST_WARNING]


def _export_errors(exposition: str) -> dict[str, float]:
    """``obskit_export_errors_total`` by ``kind``, from a scrape's text."""
    return {
        s.labels[c.LABEL_EXPORT_ERROR_KIND]: s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == c.EXPORT_ERRORS
    }


@pytest.mark.parametrize("broken", sorted(CASES))
def test_a_missing_internal_switches_to_the_public_api(broken: str) -> None:
    """With ``broken``, the self-test switches the expected fast paths to the public API with
    one JSON warning each (naming the internal and the error), and the request is served
    exactly as with every internal in place."""
    records, exposition, span = _served(broken)
    warnings = _selftest_warnings(records)
    assert sorted(w["fast_path"] for w in warnings) == sorted(CASES[broken])
    attribute = _ERROR_NAMES.get(broken, broken.split(".")[-1].split()[0])
    for warning in warnings:
        assert warning["level"] == "warning"
        assert warning["logger"] == "obskit"
        assert warning["internal"]
        assert warning["error"]
    if "." in broken and CASES[broken]:  # a hidden attribute: named in the path's error
        assert any(attribute in w["error"] for w in warnings), warnings
    assert not [r for r in records if r.get("event") == DROPPED_WARNING]
    _assert_served(records, exposition, span)


def test_nothing_broken_keeps_every_fast_path_and_warns_nothing() -> None:
    """On the installed versions every self-test passes: no warning, same output."""
    records, exposition, span = _served("nothing")
    assert _selftest_warnings(records) == []
    assert [r for r in records if r.get("level") == "warning"] == []
    _assert_served(records, exposition, span)


def test_an_encoding_failure_at_run_time_still_exports_and_is_counted() -> None:
    """obskit's writer failing on a batch after ``init()`` (the self-test passed): the batch is
    encoded by the official encoder and still exported, the failure is counted in
    ``obskit_export_errors_total{kind="encode"}`` and one warning says it was obskit's encoder
    (never "endpoint unreachable")."""
    records, exposition, span = _served("nothing", OBSKIT_TEST_BREAK_AFTER_INIT="1")
    _assert_served(records, exposition, span)
    [warning] = [r for r in records if r.get("event") == ENCODE_WARNING]
    assert warning["kind"] == c.EXPORT_ERROR_ENCODE
    assert warning["error"] == "RuntimeError: obskit's OTLP writer is broken"
    assert not [r for r in records if r.get("event") == DROPPED_WARNING]
    assert _export_errors(exposition) == {c.EXPORT_ERROR_ENCODE: 1.0}


def test_a_send_result_moved_after_init_is_obskits_own_failure_never_the_network() -> None:
    """``_client.export()``'s result losing ``.success`` after the self-test passed (the
    declared type said it had it): the batch, already sent, reaches the receiver; obskit counts
    it as its own export error (``kind="export"``, never "endpoint unreachable") and warns once
    that the send path moved (naming ``success``; the exporter marks the path missing, so later
    batches take upstream's ``export`` — not exercised here: one request, one batch)."""
    with OtlpReceiver() as receiver:
        records, exposition = _run(
            receiver, "nothing", OBSKIT_TEST_BREAK_AFTER_INIT="_ExportResult.success"
        )
        [span] = receiver.wait_for_total(1)
    _assert_served(records, exposition, span)
    [moved] = _selftest_warnings(records)
    assert moved["fast_path"] == "OTLP send"
    assert "success" in moved["error"]
    assert ".success/.error" in moved["internal"]
    [own] = [r for r in records if r.get("event") == EXPORT_ERROR_WARNING]
    assert own["kind"] == c.EXPORT_ERROR_EXPORT
    assert "result could not be read" in own["error"]
    assert not [r for r in records if r.get("event") == DROPPED_WARNING]
    assert _export_errors(exposition) == {c.EXPORT_ERROR_EXPORT: 1.0}


_USER_EXPORTER = """
import json, os
import obskit
from obskit._runtime.tracing import otlp as _otlp
from opentelemetry.exporter.otlp.proto.common import trace_encoder
from opentelemetry.exporter.otlp.proto.http import trace_exporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

upstream_export = trace_exporter.OTLPSpanExporter.export
upstream_encode = trace_exporter.encode_spans
obskit.init("user-exporter")
calls = []
writer = _otlp.encode_request
_otlp.encode_request = lambda spans: calls.append(len(spans)) or writer(spans)
mine = trace_exporter.OTLPSpanExporter(endpoint=os.environ["USER_ENDPOINT"], timeout=5)
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(mine))
provider.get_tracer("user").start_span("user span", attributes={"k": "v"}).end()
calls_for_user = list(calls)
with obskit.observe("obskit op"):
    pass
obskit.shutdown()
print(json.dumps({
    "export_is_upstream": trace_exporter.OTLPSpanExporter.export is upstream_export,
    "encoder_is_upstream": trace_exporter.encode_spans is upstream_encode
        and upstream_encode is trace_encoder.encode_spans,
    "obskit_exporter_is_subclass": issubclass(_otlp._exporter_class(),
        trace_exporter.OTLPSpanExporter),
    "writer_calls_for_user": calls_for_user,
    "writer_calls": calls,
}))
"""


def test_a_users_own_otlp_exporter_is_upstreams() -> None:
    """After ``obskit.init()`` the official ``OTLPSpanExporter`` class and its module's
    ``encode_spans`` are upstream's own objects (obskit patches neither: its writer lives in its
    own subclass), and a user's exporter sends its span without ever calling obskit's writer,
    while obskit's own exporter, in the same process, encodes its batch with it."""
    with OtlpReceiver() as receiver:
        _user_exporter_case(receiver)


def _user_exporter_case(otlp_receiver: OtlpReceiver) -> None:
    proc = _python(
        "-c",
        _USER_EXPORTER,
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.endpoint,
        USER_ENDPOINT=otlp_receiver.traces_url,
    )
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result == {
        "export_is_upstream": True,
        "encoder_is_upstream": True,
        "obskit_exporter_is_subclass": True,
        "writer_calls_for_user": [],
        "writer_calls": [1],
    }
    spans = {s.name: s for s in otlp_receiver.wait_for_total(2)}
    assert sorted(spans) == ["obskit op", "user span"]
    assert spans["user span"].attributes == {"k": "v"}


def _export_through_obskit(
    inner: Any, caplog: pytest.LogCaptureFixture
) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """Export one span through obskit's redacting exporter around ``inner``; the metric calls
    and the ``obskit.tracing`` warnings."""
    from opentelemetry.sdk.trace import TracerProvider

    from obskit._runtime.redact import Redactor
    from obskit._runtime.tracing.setup import DropCounter, RedactingExporter

    counted: list[str] = []
    drops = DropCounter(lambda n: counted.append(f"dropped {n}"), counted.append)
    exporter = RedactingExporter(inner, Redactor(frozenset(), ()), drops)
    provider = TracerProvider()
    span = provider.get_tracer("t").start_span("s")
    span.end()
    with caplog.at_level("WARNING", logger="obskit.tracing"):
        exporter.export([span])  # type: ignore[list-item]
    warnings = [
        (r.getMessage(), {k: v for k, v in r.__dict__.items() if k in ("kind", "error", "reason")})
        for r in caplog.records
        if r.name == "obskit.tracing"
    ]
    return counted, warnings


def test_an_oversize_batch_is_reported_as_obskits_not_the_network(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """obskit's exporter refusing a batch itself (over ``max_request_size``) is counted as an
    export error of obskit's path, with its own warning — not "endpoint unreachable"."""
    from obskit._runtime.tracing.otlp import make_exporter
    from obskit._runtime.tracing.setup import EXPORT_ERROR_WARNING

    with OtlpReceiver() as receiver:
        inner = make_exporter(lambda exc: None, endpoint=receiver.traces_url, max_request_size=8)
        counted, warnings = _export_through_obskit(inner, caplog)
        assert receiver.requests == 0
    assert counted == [c.EXPORT_ERROR_EXPORT, "dropped 1"]
    [(message, fields)] = warnings
    assert message == EXPORT_ERROR_WARNING
    assert fields["kind"] == c.EXPORT_ERROR_EXPORT
    assert "over max_request_size" in fields["error"]


def test_a_refused_connection_is_still_reported_as_the_network(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A closed port: the drop is the endpoint's (``DROPPED_WARNING``, reason "export failed"),
    and no export error of obskit's own path is counted."""
    from tests.support import closed_port

    from obskit._runtime.tracing.otlp import make_exporter

    inner = make_exporter(
        lambda exc: None, endpoint=f"http://127.0.0.1:{closed_port()}/v1/traces", timeout=1
    )
    counted, warnings = _export_through_obskit(inner, caplog)
    assert counted == ["dropped 1"]
    assert warnings == [(DROPPED_WARNING, {"reason": "export failed"})]


_FORKED = """
import json, os, sys
import _hide
from opentelemetry.sdk.resources import Resource
if os.environ.get("HIDE") == "1":
    _hide.hide(Resource, "_attributes")
import obskit
obskit.init("forked")
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    with obskit.observe("in child"):
        pass
    obskit.shutdown()
    os._exit(0)
os.waitpid(pid, 0)
os.write(1, (json.dumps({"child": pid, "parent": os.getpid()}) + "\\n").encode())
"""


@pytest.mark.parametrize("hidden", [False, True], ids=["in place", "Resource._attributes gone"])
def test_a_forked_worker_exports_its_own_pid(hidden: bool) -> None:
    """A span ended in a forked child carries the child's ``process.pid``: refreshed in place
    in the shared Resource, or — when ``Resource._attributes`` is not there for obskit — by the
    exporter swapping in a fresh resource, with one self-test warning naming the internal."""
    with OtlpReceiver() as receiver:
        proc = _python(
            "-c",
            _FORKED,
            OBSKIT_INSTRUMENT_LIBRARIES="false",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            HIDE="1" if hidden else "0",
            PYTHONPATH=str(_SERVICE.parent),
        )
        [span] = receiver.wait_for_total(1)
    records = _json_records(proc)
    pids = records[-1]
    assert span.name == "in child"
    assert span.resource["process.pid"] == pids["child"] != pids["parent"]
    warnings = _selftest_warnings(records)
    if hidden:
        [warning] = warnings
        assert warning["fast_path"] == "resource pid"
        assert "Resource._attributes" in warning["error"]
    else:
        assert warnings == []


def test_the_span_key_is_the_apis_own_found_through_the_public_api() -> None:
    """``context.SPAN_KEY`` (derived at import, never imported by name) is the very key
    ``set_span_in_context`` stores a span under, and with the default runtime context the
    ContextVar fast path is on (nothing reported unavailable)."""
    from opentelemetry import trace
    from opentelemetry.context.context import Context

    from obskit._runtime import context

    span = trace.NonRecordingSpan(trace.SpanContext(1, 2, False))
    assert dict(trace.set_span_in_context(span, Context())) == {context.SPAN_KEY: span}
    assert context.UNAVAILABLE is None
    assert context.CONTEXT_VAR is not None


_LINKS = """
import asyncio, json, os, sys
import _internals_more
_internals_more.BREAKS[os.environ["BREAK"]]()
import httpx, obskit
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
obskit.init("links")
memory = InMemorySpanExporter()
trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(memory))
other = trace.SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, True)

async def item(request):
    span = trace.get_current_span()
    span.add_link(other, {"why": "batch"})
    span.add_event("picked", {"n": 1})
    return PlainTextResponse("ok")

async def main():
    app = Starlette(routes=[Route("/items/{item_id}", item)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return (await client.get("/items/7")).status_code

status = asyncio.run(main())
[span] = memory.get_finished_spans()
obskit.shutdown()
sys.stdout.flush()
os.write(1, (json.dumps({
    "status": status,
    "span_class": type(span).__name__,
    "links": [[format(l.context.span_id, "016x"), dict(l.attributes)] for l in span.links],
    "events": [[e.name, dict(e.attributes)] for e in span.events],
}) + "\\n").encode())
"""


@pytest.mark.parametrize("broken", ["nothing", "Span._add_link renamed"])
def test_a_handlers_link_survives_a_renamed_add_link(broken: str) -> None:
    """``span.add_link()`` in a handler: on obskit's span (the fast path), or — when the SDK
    renamed ``Span._add_link`` (its ``add_link`` then appends to the server span's shared
    empty tuple, an ``AttributeError`` in the handler) — on the SDK's own span, the self-test
    having switched "server span" off with one warning.  Fails without the self-test's link."""
    proc = _python(
        "-c",
        _LINKS,
        BREAK=broken,
        OBSKIT_LOG_FORMAT="json",
        OBSKIT_INSTRUMENT_LIBRARIES="false",
        OTEL_TRACES_EXPORTER="none",
        PYTHONPATH=os.pathsep.join([str(_SERVICE.parent), str(_SERVICE.parents[2])]),
    )
    records = _json_records(proc)
    result = records[-1]
    assert result["status"] == 200
    assert result["links"] == [["b7ad6b7169203331", {"why": "batch"}]]
    assert result["events"] == [["picked", {"n": 1}]]
    warnings = _selftest_warnings(records)
    if broken == "nothing":
        assert result["span_class"] == "ServerSpan"
        assert warnings == []
    else:
        assert result["span_class"] == "ReadableSpan"  # the SDK's span, as it hands it on
        assert [w["fast_path"] for w in warnings] == ["server span"]


_FASTAPI = """
import asyncio, json, os, sys
import _hide
import fastapi
if os.environ.get("HIDE") == "1":
    _hide.hide(fastapi.FastAPI, "_telemetry")
import httpx, obskit
obskit.init("native")
app = fastapi.FastAPI()

@app.get("/items/{item_id}")
async def item(item_id: str):
    return {"item": item_id}

async def main():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return [(await client.get(f"/items/{n}")).status_code for n in (7, 8)]

statuses = asyncio.run(main())
obskit.shutdown()
sys.stdout.flush()
os.write(1, (json.dumps({"statuses": statuses}) + "\\n").encode())
"""


@pytest.mark.parametrize("hidden", [False, True], ids=["in place", "FastAPI._telemetry gone"])
def test_fastapis_own_telemetry_is_switched_off_or_named(hidden: bool) -> None:
    """FastAPI's native telemetry (its ``_telemetry`` dict, filled by the public
    ``FastAPI(telemetry=...)`` keyword) is switched off for the apps obskit instruments: one
    server span per request, obskit's.  With ``_telemetry`` gone for obskit, each request is
    still served and gets obskit's span with its attributes, FastAPI's own spans come too, and
    one JSON warning (once per process) names the internal and the public keyword to use.
    A FastAPI older than its native telemetry (the floor lane's) has nothing to switch off:
    one span per request either way, and no warning."""
    import inspect

    import fastapi

    native = "telemetry" in inspect.signature(fastapi.FastAPI.__init__).parameters
    with OtlpReceiver() as receiver:
        proc = _python(
            "-c",
            _FASTAPI,
            HIDE="1" if hidden else "0",
            OBSKIT_LOG_FORMAT="json",
            OBSKIT_INSTRUMENT_LIBRARIES="false",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            PYTHONPATH=str(_SERVICE.parent),
        )
        spans = receiver.wait_for_total(10 if hidden and native else 2)
    records = _json_records(proc)
    assert records[-1] == {"statuses": [200, 200]}
    ours = [s for s in spans if s.scope == "obskit"]
    assert [s.attributes["url.path"] for s in ours] == ["/items/7", "/items/8"]
    for span in ours:
        assert span.kind == "SERVER"
        assert span.attributes["http.route"] == "/items/{item_id}"
        assert span.attributes["http.response.status_code"] == 200
    warnings = [r for r in records if r.get("level") == "warning"]
    if hidden and native:
        from obskit._runtime.integrations.starlette import NATIVE_TELEMETRY_WARNING

        [warning] = warnings
        assert warning["event"] == NATIVE_TELEMETRY_WARNING
        assert "FastAPI._telemetry" in warning["internal"]
        assert "_telemetry" in warning["error"]
        assert "telemetry=" in warning["use"]
        assert {s.scope for s in spans} == {"obskit", "fastapi"}
    else:
        assert warnings == []
        assert len(spans) == 2


def test_the_sdks_own_span_class_is_encoded_alike_without_its_fast_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A span of the SDK's private ``_Span`` class, written by obskit's writer with and without
    the direct field reads (as when ``opentelemetry.sdk.trace._Span`` is renamed: the public
    properties serve), parses to the official encoder's message."""
    from opentelemetry import trace
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.sdk import trace as sdk_trace
    from opentelemetry.sdk.trace import TracerProvider

    from obskit._runtime.tracing import otlp
    from obskit._runtime.tracing.span import ServerSpan

    span = TracerProvider().get_tracer("t").start_span("s", kind=trace.SpanKind.SERVER)
    span.set_attribute("k", "v")
    span.add_event("e", {"n": 1})
    span.add_link(trace.SpanContext(1, 2, True), {"why": "x"})
    span.set_status(trace.Status(trace.StatusCode.ERROR, "bad"))
    span.end()
    assert type(span) is sdk_trace._Span
    official = ExportTraceServiceRequest.FromString(otlp.official_request([span]))
    assert ExportTraceServiceRequest.FromString(otlp.encode_request([span])) == official
    monkeypatch.setattr(otlp, "_PLAIN", [frozenset({sdk_trace.ReadableSpan, ServerSpan})])
    assert ExportTraceServiceRequest.FromString(otlp.encode_request([span])) == official
