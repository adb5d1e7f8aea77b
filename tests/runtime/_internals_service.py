"""A FastAPI-free Starlette service run in its own interpreter by ``test_internals.py``.

``OBSKIT_TEST_BREAK`` names what to break before ``obskit.init()`` (see ``BREAKS``); the script
then serves one request (``GET /items/7``, whose handler binds a contextvar, sets a span
attribute and logs a line), flushes the spans to ``OTEL_EXPORTER_OTLP_ENDPOINT`` and prints the
OpenMetrics exposition as one JSON line ``{"exposition": ...}`` after obskit's own lines.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable

import _hide


def _hide_attr(module: str, owner: str, name: str) -> Callable[[], None]:
    def apply() -> None:
        __import__(module)
        _hide.hide(getattr(sys.modules[module], owner), name)

    return apply


def _structlog_map_moved() -> None:
    # structlog keeps working with its own map; obskit is left holding a map nobody fills.
    from obskit._runtime.logs import bindings

    bindings._BOUND_VARS = {}


def _structlog_map_removed() -> None:
    # What obskit sees when structlog no longer has ``_CONTEXT_VARS`` (read once, at import).
    from obskit._runtime.logs import bindings

    bindings._BOUND_VARS = None


def _encoder_raises() -> None:
    from obskit._runtime.tracing import otlp as _otlp

    def broken(span: object) -> bytes:
        raise RuntimeError("obskit's OTLP writer is broken")

    _otlp._plain_span = broken


def _span_key_renamed() -> None:
    # obskit derives the API's span key through set_span_in_context: no import of the name.
    import opentelemetry.trace.propagation as propagation

    _hide.hide_module_attribute(propagation, "_SPAN_KEY")


_SDK = "opentelemetry.sdk.trace"
_ATTRS = "opentelemetry.attributes"
BREAKS: dict[str, Callable[[], None]] = {
    "BoundedAttributes._set_items": _hide_attr(_ATTRS, "BoundedAttributes", "_set_items"),
    "BoundedAttributes._dict": _hide_attr(_ATTRS, "BoundedAttributes", "_dict"),
    "BoundedAttributes._immutable": _hide_attr(_ATTRS, "BoundedAttributes", "_immutable"),
    "BoundedAttributes._lock": _hide_attr(_ATTRS, "BoundedAttributes", "_lock"),
    "Tracer._tracer_metrics": _hide_attr(_SDK, "Tracer", "_tracer_metrics"),
    "Tracer._tracer_config": _hide_attr(_SDK, "Tracer", "_tracer_config"),
    "Tracer._span_limits": _hide_attr(_SDK, "Tracer", "_span_limits"),
    "Tracer._instrumentation_scope": _hide_attr(_SDK, "Tracer", "_instrumentation_scope"),
    "Span._name": _hide_attr(_SDK, "Span", "_name"),
    "ReadableSpan._attributes": _hide_attr(_SDK, "ReadableSpan", "_attributes"),
    "ReadableSpan._events": _hide_attr(_SDK, "ReadableSpan", "_events"),
    "Span._context": _hide_attr(_SDK, "Span", "_context"),
    "SynchronousMultiSpanProcessor._on_ending": _hide_attr(
        _SDK, "SynchronousMultiSpanProcessor", "_on_ending"
    ),
    "Histogram._sum": _hide_attr("prometheus_client", "Histogram", "_sum"),
    "Histogram._buckets": _hide_attr("prometheus_client", "Histogram", "_buckets"),
    "Histogram._upper_bounds": _hide_attr("prometheus_client", "Histogram", "_upper_bounds"),
    "OTLPSpanExporter._client": _hide_attr(
        "opentelemetry.exporter.otlp.proto.http.trace_exporter", "OTLPSpanExporter", "_client"
    ),
    "OTLPSpanExporter._metrics": _hide_attr(
        "opentelemetry.exporter.otlp.proto.http.trace_exporter", "OTLPSpanExporter", "_metrics"
    ),
    "_OTLPHTTPClient.export": _hide_attr(
        "opentelemetry.exporter.otlp.common.http", "_OTLPHTTPClient", "export"
    ),
    # The result of ``_client.export()`` (upstream reads it; obskit's direct send too).
    "_ExportResult.success": _hide_attr(
        "opentelemetry.exporter.otlp.common.http", "_ExportResult", "success"
    ),
    "_ExportResult.error": _hide_attr(
        "opentelemetry.exporter.otlp.common.http", "_ExportResult", "error"
    ),
    "_OTLPHTTPClient._transport": _hide_attr(
        "opentelemetry.exporter.otlp.common.http", "_OTLPHTTPClient", "_transport"
    ),
    "OTLPSpanExporter._endpoint": _hide_attr(
        "opentelemetry.exporter.otlp.proto.http.trace_exporter", "OTLPSpanExporter", "_endpoint"
    ),
    "BatchSpanProcessor._batch_processor": _hide_attr(
        "opentelemetry.sdk.trace.export", "BatchSpanProcessor", "_batch_processor"
    ),
    "BatchProcessor._queue": _hide_attr(
        "opentelemetry.sdk._shared_internal", "BatchProcessor", "_queue"
    ),
    "ParentBased._root": _hide_attr("opentelemetry.sdk.trace.sampling", "ParentBased", "_root"),
    "ContextVarsRuntimeContext._current_context": _hide_attr(
        "opentelemetry.context.contextvars_context", "ContextVarsRuntimeContext", "_current_context"
    ),
    "propagation._SPAN_KEY": _span_key_renamed,
    "structlog _CONTEXT_VARS moved": _structlog_map_moved,
    "structlog _CONTEXT_VARS removed": _structlog_map_removed,
    "OTLP writer raises": _encoder_raises,
    "nothing": lambda: None,
}


def main() -> None:
    BREAKS[os.environ["OBSKIT_TEST_BREAK"]]()
    import obskit

    obskit.init("internals")
    after = os.environ.get("OBSKIT_TEST_BREAK_AFTER_INIT")
    if after in BREAKS:  # an internal moved after the self-test passed
        BREAKS[after]()
    elif after:  # an encode failure at run time only
        _encoder_raises()

    import asyncio

    import httpx
    import structlog
    from opentelemetry import trace
    from prometheus_client import REGISTRY
    from prometheus_client.openmetrics.exposition import generate_latest
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    log = obskit.get_logger("internals.app")

    async def item(request: Request) -> PlainTextResponse:
        structlog.contextvars.bind_contextvars(order="o-1")
        span = trace.get_current_span()
        span.set_attribute("app.order", "o-1")
        span.add_event("login", {"password": "hunter2", "user": "ann"})
        log.info("handled", item=request.path_params["item_id"])
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/items/{item_id}", item)])

    async def request() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            response = await client.get("/items/7", headers={"user-agent": "internals-test"})
        return response.text

    assert asyncio.run(request()) == "ok"
    obskit.shutdown()  # exports the span
    exposition = generate_latest(REGISTRY).decode()
    sys.stdout.flush()
    os.write(1, (json.dumps({"exposition": exposition}) + "\n").encode())


if __name__ == "__main__":
    main()
