"""Plain ASGI middleware: one histogram observation, one server span, one access line.

Not ``BaseHTTPMiddleware`` (an extra task and body streaming per request), and no route matching:
the route template is read from what the router already stored in the scope (``scope["route"]``),
so the cost is the same with 1 route or 1,000.  The span is created with ``tracer.start_span`` and
attached by hand — OpenTelemetry's ASGI instrumentation adds send/receive spans and re-matches
routes, which is where most of its overhead goes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from obskit import conventions as c
from obskit._runtime import heap as _heap
from obskit._runtime import state as _state
from obskit._runtime.http.request import Request, begin

__all__ = ["ObskitASGI", "route_of_scope"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_UNMATCHED: Final = c.UNMATCHED_ROUTE
#: Headers the middleware reads, in one pass over ``scope["headers"]``.
_WANTED: Final = frozenset({b"traceparent", b"tracestate", b"baggage", b"user-agent"})
_UA: Final = b"user-agent"


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
    """Flush spans when the server's lifespan shutdown completes; freeze the application's
    start-up heap when its startup completes (``gc_freeze``, ``heap.py``).

    uvicorn re-raises the terminating signal after a graceful shutdown, so ``atexit`` hooks
    never run there: the lifespan shutdown is the last moment obskit is sure to see.  The
    startup's completion is sent before the server serves its first request: none is alive.
    """

    async def wrapped(message: MutableMapping[str, Any]) -> None:
        kind = message.get("type")
        if kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            st = _state.STATE
            if st is not None:
                st.flush()
        elif kind == "lifespan.startup.complete":
            st = _state.STATE
            if st is not None and st.config.gc_freeze:
                _heap.freeze("application started")
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
            or path in st.excluded
            or (path[-1:] == "/" and st.is_excluded(path))  # the call only for a trailing "/"
            or (st.excluded_urls is not None and st.excluded_urls.asgi(self.framework, scope))
        ):
            await self.app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        scheme: str = scope.get("scheme", "http")
        client = scope.get("client")
        req = begin(_ASGIRequest, st, scope["method"], path, scheme, client[0] if client else None)
        scope["obskit.start"] = req.start
        req.send = send
        tracer = st.tracer
        if tracer is not None:
            found: dict[str, str] | None = None
            ua: bytes | None = None  # decoded only if the span records
            for key, value in scope["headers"]:
                if key in _WANTED:
                    # A repeated field is one comma-joined list, in order (RFC 9110 5.3; W3C
                    # Trace Context for tracestate), as WSGI servers already hand it over.
                    if key == _UA:
                        ua = value if ua is None else ua + b"," + value
                        continue
                    name, text = key.decode("latin-1"), value.decode("latin-1")
                    if found is None:
                        found = {}
                    found[name] = found[name] + "," + text if name in found else text
            parent = None
            if found is not None and ("traceparent" in found or "baggage" in found):
                parent = st.propagator.extract(found)
            if req.start_span(tracer, parent, scheme):
                attributes: Any = req.attributes
                if ua:
                    attributes["user_agent.original"] = ua.decode("latin-1")
                query = scope.get("query_string")
                if query:
                    attributes["url.query"] = st.redactor.redact_query(query.decode("latin-1"))
                version = scope.get("http_version")
                if version:
                    attributes["network.protocol.version"] = version
        error: BaseException | None = None
        try:
            await self.app(scope, receive, req.send_wrapper)
        except BaseException as exc:
            error = exc
            req.failed(exc)
            raise
        finally:
            status = req.status
            if error is not None or status >= 500:  # else settle() returns None: skip the call
                error = req.settle(error, scope)
            req.finish(route_of_scope(scope, root_path, status), error)


class _ASGIRequest(Request):
    """The request record plus the server's ``send``, whose response start gives the status."""

    __slots__ = ("send",)
    send: Send

    async def send_wrapper(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
        await self.send(message)
