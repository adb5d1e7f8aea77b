"""Plain ASGI middleware: one histogram observation, one server span, one access line.

Not ``BaseHTTPMiddleware`` (an extra task and body streaming per request), and no route matching:
the route template is read from what the router already stored in the scope (``scope["route"]``),
so the cost is the same with 1 route or 1,000.  The span is created with ``tracer.start_span`` and
attached by hand — OpenTelemetry's ASGI instrumentation adds send/receive spans and re-matches
routes, which is where most of its overhead goes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter
from typing import Any, Final

from opentelemetry.trace import SpanKind

from obskit import _state
from obskit import conventions as c
from obskit._context import enter_span, leave_span
from obskit._logs import clear_contextvars as _clear_contextvars

__all__ = ["ObskitASGI", "route_of_scope"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_STANDARD: Final = c.STANDARD_METHODS
_OTHER: Final = c.METHOD_OTHER
_SPAN_OTHER: Final = c.SPAN_METHOD_OTHER
_UNMATCHED: Final = c.UNMATCHED_ROUTE
_SERVER: Final = SpanKind.SERVER
#: Headers the middleware reads, in one pass over ``scope["headers"]``.
_WANTED: Final = frozenset({b"traceparent", b"tracestate", b"baggage", b"user-agent"})
_EXCEPTION_IDS: Final = "__obskit_ids__"


def route_of_scope(scope: Scope, root_path: str, status: int) -> str:
    """The route template the (Starlette-style) router stored in ``scope``, with mount prefixes."""
    route = scope.get("route")
    if route is None:
        return _UNMATCHED
    if isinstance(route, str):
        return route or _UNMATCHED
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return _UNMATCHED
    prefix = scope.get("obskit.prefix")
    if prefix is None:
        # Mounts append the matched prefix to root_path; the difference is the mount path.
        now = scope.get("root_path", "")
        prefix = now[len(root_path) :] if now != root_path and now.startswith(root_path) else ""
    if not hasattr(route, "endpoint"):  # a Mount that is itself the final match
        if status == 404:
            return _UNMATCHED  # nothing matched inside the mounted app
        return prefix or template
    return prefix + template


def _flush_on_shutdown(send: Send) -> Send:
    """Flush spans when the server's lifespan shutdown completes.

    uvicorn re-raises the terminating signal after a graceful shutdown, so ``atexit`` hooks
    never run there: the lifespan shutdown is the last moment obskit is sure to see.
    """

    async def wrapped(message: MutableMapping[str, Any]) -> None:
        if message.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            from obskit._runtime import flush

            flush()
        await send(message)

    return wrapped


class ObskitASGI:
    """Instrument an ASGI application (idempotent; nested instances pass through)."""

    __slots__ = ("__dict__", "app")
    #: Which ``OTEL_PYTHON_<FRAMEWORK>_EXCLUDED_URLS`` applies (``""``: the generic one only).
    framework = ""

    def __init__(self, app: ASGIApp, framework: str = "") -> None:
        self.app = app
        if framework:
            self.framework = framework

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and "obskit.lifespan" not in scope:
                scope["obskit.lifespan"] = True
                await self.app(scope, receive, _flush_on_shutdown(send))
                return
            await self.app(scope, receive, send)
            return
        if "obskit.start" in scope:
            # An instrumented app inside an instrumented app (a mounted sub-application):
            # record the mount's template so the outer middleware reports the full route.
            mount = scope.get("route")
            if mount is not None and not hasattr(mount, "endpoint"):
                prefix = getattr(mount, "path", "")
                scope["obskit.prefix"] = scope.get("obskit.prefix", "") + prefix
            await self.app(scope, receive, send)
            return
        st = _state.STATE
        path: str = scope["path"]
        if (
            st is None
            or st.is_excluded(path)
            or (st.excluded_urls is not None and st.excluded_urls.asgi(self.framework, scope))
        ):
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        scope["obskit.start"] = start
        if ";" in path or "?" in path:  # ;name=value parameters (or a decoded %3F) in the path
            path = st.redactor.redact_path(path)
        # A server runs each request in a fresh task, but in-process clients (httpx's
        # ASGITransport, test clients) reuse one context: bindings must not leak across requests.
        _clear_contextvars()
        root_path = scope.get("root_path", "")
        raw_method: str = scope["method"]
        method = raw_method if raw_method in _STANDARD else _OTHER
        scheme: str = scope.get("scheme", "http")
        client = scope.get("client")
        client_addr = client[0] if client else None
        active = st.metrics.active_value(method, scheme)
        active.inc(1)
        status = 500
        started = False

        async def send_wrapper(message: MutableMapping[str, Any]) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
            await send(message)

        span = None
        attributes: dict[str, Any] | None = None
        token = None
        trace_hex = span_hex = None
        sampled = False
        tracer = st.tracer
        if tracer is not None:
            found: dict[str, str] = {}
            for key, value in scope["headers"]:
                if key in _WANTED:
                    name, text = key.decode("latin-1"), value.decode("latin-1")
                    # A repeated field is one comma-joined list, in order (RFC 9110 5.3; W3C
                    # Trace Context for tracestate), as WSGI servers already hand it over.
                    found[name] = found[name] + "," + text if name in found else text
            parent = None
            if "traceparent" in found or "baggage" in found:
                parent = st.propagator.extract(found)
            initial = {"http.request.method": method, "url.path": path, "url.scheme": scheme}
            name = method
            if method is _OTHER:  # attacker-chosen text: never a span name or method value
                name = _SPAN_OTHER
                initial["http.request.method_original"] = raw_method
            spans = st.server_spans
            if spans is not None:
                span = spans.start(name, parent, initial)
            else:
                span = tracer.start_span(name, parent, _SERVER, initial)
            if span.is_recording():
                # The rest only for spans that are kept (set once, at the end, with the route):
                # unsampled requests skip the work.
                attributes = {}
                if client_addr:
                    attributes["client.address"] = client_addr
                ua = found.get("user-agent")
                if ua:
                    attributes["user_agent.original"] = ua
                query = scope.get("query_string")
                if query:
                    attributes["url.query"] = st.redactor.redact_query(query.decode("latin-1"))
                version = scope.get("http_version")
                if version:
                    attributes["network.protocol.version"] = version
            sc = span.get_span_context()
            trace_hex = format(sc.trace_id, "032x")
            span_hex = format(sc.span_id, "016x")
            sampled = sc.trace_flags.sampled
            token = enter_span(span, parent, trace_hex, span_hex)
        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException as exc:
            error = exc
            if trace_hex is not None:
                # The server logs this exception after our context is gone: let the stdlib
                # bridge find the request's ids on the exception itself.
                with contextlib.suppress(AttributeError):
                    setattr(exc, _EXCEPTION_IDS, (trace_hex, span_hex))
            raise
        finally:
            active.inc(-1)
            error = _state.settle_error(error, started, status, scope)
            try:
                _state.finish_request(
                    st, span, attributes, raw_method, method,
                    route_of_scope(scope, root_path, status), path, status, start, trace_hex,
                    span_hex, sampled, client_addr, error,
                )  # fmt: skip
            finally:
                if token is not None:
                    leave_span(token)
