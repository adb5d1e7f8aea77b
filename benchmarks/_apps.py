"""The applications measured by ``bench_runtime.py``: a bare Starlette or FastAPI app and the same
app wired with each instrumentation (OpenTelemetry's ASGI middleware, prometheus-fastapi-
instrumentator, the hand-wired trio, obskit).

Every builder runs in a fresh interpreter (one variant per process), so global state — tracer
providers, structlog configuration, Prometheus registries, obskit's patches — never leaks from
one variant into another.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The path every benchmark request asks for; with N routes it matches the *last* one.
REQUEST_PATH = "/items/42"
ROUTE_TEMPLATE = "/items/{item_id}"


# -- bare applications -------------------------------------------------------------------------
def starlette_app(routes: int) -> Any:
    """A Starlette app with ``routes`` routes; the measured one is the last."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    table = [Route(f"/r{i}/{{item_id}}", item) for i in range(routes - 1)]
    table.append(Route(ROUTE_TEMPLATE, item))
    return Starlette(routes=table)


def fastapi_app(routes: int) -> Any:
    """A FastAPI app with ``routes`` routes (``item_id: int`` validated); the measured one is the
    last.  FastAPI's own built-in telemetry (recent releases) is switched off so that only the
    instrumentation under test runs."""
    from fastapi import FastAPI
    from starlette.responses import PlainTextResponse

    kwargs: dict[str, Any] = {}
    if "telemetry" in inspect.signature(FastAPI).parameters:
        kwargs["telemetry"] = {"tracing": False, "metrics": False, "logs": False}
    app = FastAPI(**kwargs)

    async def item(item_id: int) -> PlainTextResponse:
        return PlainTextResponse("ok")

    for i in range(routes - 1):
        app.add_api_route(f"/r{i}/{{item_id}}", item, methods=["GET"])
    app.add_api_route(ROUTE_TEMPLATE, item, methods=["GET"])
    return app


def bare(framework: str, routes: int) -> Any:
    """The uninstrumented app of ``framework`` (``starlette`` or ``fastapi``)."""
    return starlette_app(routes) if framework == "starlette" else fastapi_app(routes)


# -- OpenTelemetry's ASGI middleware -------------------------------------------------------------
class CountingExporter:
    """A span exporter that only counts (the "no-op exporter" behind the batch processor)."""

    exported = 0

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        CountingExporter.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing buffered."""
        return True


def install_otel_sdk(real_export: bool = False) -> Any:
    """A global SDK ``TracerProvider`` with a ``BatchSpanProcessor`` to a counting exporter, or
    (``real_export``) to the official OTLP/HTTP exporter, configured from the environment
    (``OTEL_EXPORTER_OTLP_ENDPOINT``) as a user's would be."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter: Any = CountingExporter()
    if real_export:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def otel_asgi(framework: str, routes: int) -> Any:
    """The app behind ``opentelemetry.instrumentation.asgi.OpenTelemetryMiddleware``."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    install_otel_sdk()
    return OpenTelemetryMiddleware(bare(framework, routes))


# -- prometheus-fastapi-instrumentator -----------------------------------------------------------
def prometheus_instrumentator(framework: str, routes: int) -> Any:
    """The app instrumented by ``Instrumentator().instrument(app)`` (default metrics)."""
    from prometheus_fastapi_instrumentator import Instrumentator

    app = bare(framework, routes)
    Instrumentator().instrument(app)
    return app


# -- the hand-wired trio ---------------------------------------------------------------------------
def configure_structlog_json() -> None:
    """structlog as a typical service configures it: level, ISO timestamp, JSON on stdout."""
    import structlog

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )


class StructlogAccessLog:
    """A plain ASGI middleware writing one structlog JSON access line with the trace ids."""

    def __init__(self, app: ASGIApp) -> None:
        import structlog
        from opentelemetry import trace

        self.app = app
        self.log = structlog.get_logger("access")
        self.current_span = trace.get_current_span

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            ctx = self.current_span().get_span_context()
            client = scope.get("client")
            self.log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((perf_counter() - start) * 1000, 3),
                client_addr=client[0] if client else None,
                trace_id=format(ctx.trace_id, "032x"),
                span_id=format(ctx.span_id, "016x"),
            )


def trio(framework: str, routes: int, real_export: bool = False) -> Any:
    """What users wire by hand today: OTel's ASGI middleware (outermost, so its span is active
    for the access line), a structlog JSON access line with trace ids, and
    prometheus-fastapi-instrumentator."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    install_otel_sdk(real_export)
    configure_structlog_json()
    return OpenTelemetryMiddleware(StructlogAccessLog(prometheus_instrumentator(framework, routes)))


# -- obskit ----------------------------------------------------------------------------------------
def stub_otlp_export() -> None:
    """Make obskit's OTLP/HTTP exporter skip only its network send.

    obskit's whole processor chain (bounded batch processor, redacting exporter) and the
    protobuf encoding of each batch (obskit's own writer, in its exporter subclass) still run on
    the export thread, which shares the GIL with the requests; only the HTTP POST is skipped.
    (The OTel variants' exporter does not even encode: this side of the comparison is the
    conservative one.)
    """
    from opentelemetry.sdk.trace.export import SpanExportResult

    from obskit._runtime.tracing.otlp import _exporter_class

    exporter_class: Any = _exporter_class()
    encode_and_send = exporter_class.export

    def export(self: Any, spans: Any) -> SpanExportResult:
        result: SpanExportResult = encode_and_send(self, spans)
        if result is SpanExportResult.SUCCESS:
            CountingExporter.exported += len(spans)
        return result

    def send(self: Any, operation: Any, post: Any, data: bytes) -> SpanExportResult:
        return SpanExportResult.SUCCESS  # the HTTP POST, skipped

    exporter_class.export = export
    exporter_class._send = send


def obskit_app(framework: str, routes: int, real_export: bool = False) -> Any:
    """``obskit.init()``, then the app created as usual (instrumented automatically).

    Sampling, the metrics port (0), the log format (JSON) and, with ``real_export``, the OTLP
    endpoint come from the environment the benchmark driver sets for the variant.
    """
    if not real_export:
        stub_otlp_export()
    import obskit

    obskit.init("bench")
    return bare(framework, routes)


BUILDERS: dict[str, Callable[[str, int], Any]] = {
    "bare": bare,
    "otel-asgi": otel_asgi,
    "prometheus-fastapi-instrumentator": prometheus_instrumentator,
    "trio": trio,
    "obskit": obskit_app,
    # Spans really exported over OTLP/HTTP (the endpoint from OTEL_EXPORTER_OTLP_ENDPOINT).
    "trio-export": lambda framework, routes: trio(framework, routes, real_export=True),
    "obskit-export": lambda framework, routes: obskit_app(framework, routes, real_export=True),
}


def flush_spans() -> None:
    """Export every queued span now, on the calling thread (the SDK's ``force_flush``): ends
    each timed batch of a real-export variant, so the export is charged to its stack."""
    from opentelemetry import trace

    provider: Any = trace.get_tracer_provider()
    provider.force_flush()
