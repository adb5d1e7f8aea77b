"""Tracing details: span-attribute redaction, exception ids, library instrumentation, sampler."""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from obskit._runtime.config import resolve
from obskit._runtime.redact import REDACTED, Redactor
from obskit._runtime.tracing.setup import DropCounter, RedactingExporter
from obskit.testing import IsolatedRuntime

from .conftest import run_python


def test_span_attributes_are_redacted_on_export() -> None:
    """Secret-named span attributes are replaced before export; others untouched."""
    memory = InMemorySpanExporter()
    redactor = Redactor(resolve({}, env={}).redact_keys)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(memory, redactor, None)))
    with provider.get_tracer("t").start_as_current_span("s") as span:
        span.set_attribute("http.request.header.authorization", "Bearer abc")
        span.set_attribute("db.password", "p")
        span.set_attribute("auth_method", "oauth")
        span.set_attribute("token_count", 3)
    (exported,) = memory.get_finished_spans()
    attrs = dict(exported.attributes or {})
    assert attrs["http.request.header.authorization"] == REDACTED
    assert attrs["db.password"] == REDACTED
    assert attrs["auth_method"] == "oauth"
    assert attrs["token_count"] == 3


def test_failed_exports_count_as_dropped() -> None:
    """An exporter failure adds the batch size to the dropped counter, warning once."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Down(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.FAILURE

    dropped: list[int] = []
    exporter = RedactingExporter(Down(), Redactor(frozenset()), DropCounter(dropped.append))
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    for _ in range(3):
        tracer.start_span("x").end()
    assert dropped == [1, 1, 1]


def test_server_logged_exception_carries_request_ids(rt: IsolatedRuntime) -> None:
    """An exception logged after the request's context is gone (as uvicorn does) still gets the
    ids of the request that raised it."""
    exc = RuntimeError("late")
    exc.__obskit_ids__ = ("a" * 32, "b" * 16)  # type: ignore[attr-defined]
    try:
        raise exc
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    (event,) = rt.events
    assert (event["trace_id"], event["span_id"]) == ("a" * 32, "b" * 16)
    assert event["exception"]["type"] == "RuntimeError"


def test_library_instrumentors_run_once_and_skip_server_ones() -> None:
    """Installed client instrumentors (requests) run once; disabled names are honoured."""
    code = """
        import sys, obskit
        from obskit._runtime.tracing.libraries import instrument_libraries
        obskit.init("svc")
        from opentelemetry.instrumentation.requests import RequestsInstrumentor
        first = RequestsInstrumentor().is_instrumented_by_opentelemetry
        again = instrument_libraries()
        sys.stderr.write(f"{first} {again}\\n")
    """
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "True []"
    disabled = run_python(code, env={"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "requests"})
    assert disabled.stderr.strip().splitlines()[-1] == "False []"


def test_requests_client_span_is_child_of_observe_span() -> None:
    """A requests call inside an observed operation gets a CLIENT span in the same trace and a
    traceparent header — the library instrumentation uses obskit's provider."""
    code = """
        import sys, threading, json, obskit
        from http.server import BaseHTTPRequestHandler, HTTPServer
        seen = {}
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                seen["tp"] = self.headers.get("traceparent")
                self.send_response(204); self.end_headers()
            def log_message(self, *a): pass
        srv = HTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        obskit.init("svc")
        import requests
        from opentelemetry import trace
        with obskit.observe("job"):
            tid = format(trace.get_current_span().get_span_context().trace_id, "032x")
            requests.get(f"http://127.0.0.1:{srv.server_port}/", timeout=5)
        sys.stderr.write(json.dumps({"tid": tid, "tp": seen.get("tp")}) + "\\n")
        srv.shutdown()
    """
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stderr.strip().splitlines()[-1])
    assert data["tp"] is not None
    assert data["tp"].split("-")[1] == data["tid"]


def test_sampler_from_environment_ratio_zero_keeps_ids() -> None:
    """OTEL_TRACES_SAMPLER=parentbased_traceidratio with ARG 0: unsampled, no exemplar, but
    the access line still has the ids."""
    code = """
        import asyncio, httpx, sys, obskit
        from prometheus_client.openmetrics.exposition import generate_latest
        from prometheus_client import REGISTRY
        obskit.init("svc")
        from fastapi import FastAPI
        app = FastAPI()
        @app.get("/a")
        async def a(): return 1
        async def main():
            t = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=t, base_url="http://x") as c:
                await c.get("/a")
        asyncio.run(main())
        sys.stderr.write(str("trace_id=" in generate_latest(REGISTRY).decode()) + "\\n")
    """
    result = run_python(
        code,
        env={"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "False"
    access = next(json.loads(x) for x in result.stdout.splitlines() if "obskit.access" in x)
    assert len(access["trace_id"]) == 32
    assert access["trace_id"] != "0" * 32
