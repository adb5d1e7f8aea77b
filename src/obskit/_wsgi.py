"""Plain WSGI middleware, the twin of :mod:`obskit._asgi`.

The route template comes from what the framework matched: ``environ["obskit.route"]`` when set
(Flask: copied there right after Flask's own matching; Django's route middleware; custom apps),
else a werkzeug request's ``url_rule`` — nothing is re-matched.  WSGI servers reuse
threads, so structlog's contextvars are cleared at the start of each request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any, Final

from opentelemetry.trace import SpanKind

from obskit import _state
from obskit import conventions as c
from obskit._context import enter_span, leave_span
from obskit._logs import clear_contextvars as _clear_contextvars

__all__ = ["ObskitWSGI", "route_of_environ"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_STANDARD: Final = c.STANDARD_METHODS
_OTHER: Final = c.METHOD_OTHER
_SPAN_OTHER: Final = c.SPAN_METHOD_OTHER
_UNMATCHED: Final = c.UNMATCHED_ROUTE
_SERVER: Final = SpanKind.SERVER
_EXCEPTION_IDS: Final = "__obskit_ids__"
_HEADERS: Final = (
    ("HTTP_TRACEPARENT", "traceparent"),
    ("HTTP_TRACESTATE", "tracestate"),
    ("HTTP_BAGGAGE", "baggage"),
)


def route_of_environ(environ: dict[str, Any]) -> str:
    """The route template the framework matched for this request, or ``<unmatched>``."""
    route = environ.get("obskit.route")
    if route is not None:
        template = route if isinstance(route, str) else getattr(route, "path", None)
        return template if isinstance(template, str) and template else _UNMATCHED
    request = environ.get("werkzeug.request")  # werkzeug apps other than Flask
    if request is not None:
        rule = getattr(request, "url_rule", None)
        if rule is not None:
            # SCRIPT_NAME is where the app is mounted (a deployment constant, not user input).
            return str(environ.get("SCRIPT_NAME", "")).rstrip("/") + str(rule.rule)
    return _UNMATCHED


class ObskitWSGI:
    """Instrument a WSGI application (idempotent; nested instances pass through)."""

    __slots__ = ("__dict__", "app")
    #: Which ``OTEL_PYTHON_<FRAMEWORK>_EXCLUDED_URLS`` applies (``""``: the generic one only).
    framework = ""

    def __init__(self, app: WSGIApp, framework: str = "") -> None:
        self.app = app
        if framework:
            self.framework = framework

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        st = _state.STATE
        path: str = environ.get("PATH_INFO", "") or "/"
        if (
            st is None
            or "obskit.start" in environ
            or st.is_excluded(path)
            or (st.excluded_urls is not None and st.excluded_urls.wsgi(self.framework, environ))
        ):
            return self.app(environ, start_response)
        start = perf_counter()
        environ["obskit.start"] = start
        if ";" in path or "?" in path:  # ;name=value parameters (or a decoded %3F) in the path
            path = st.redactor.redact_path(path)
        _clear_contextvars()
        raw_method: str = environ.get("REQUEST_METHOD", "GET")
        method = raw_method if raw_method in _STANDARD else _OTHER
        scheme: str = environ.get("wsgi.url_scheme", "http")
        client_addr = environ.get("REMOTE_ADDR") or None
        active = st.metrics.active_child(method, scheme)
        active.inc()
        status = 500
        started = False

        def start_response_wrapper(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            nonlocal status, started
            try:
                status = int(status_line[:3])
            except ValueError:
                status = 500
            started = True
            if exc_info is None:
                return start_response(status_line, headers)
            return start_response(status_line, headers, exc_info)

        span = None
        attributes: dict[str, Any] | None = None
        token = None
        trace_hex = span_hex = None
        sampled = False
        tracer = st.tracer
        if tracer is not None:
            parent = None
            if "HTTP_TRACEPARENT" in environ or "HTTP_BAGGAGE" in environ:
                carrier = {name: environ[key] for key, name in _HEADERS if key in environ}
                parent = st.propagator.extract(carrier)
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
            attributes = {}
            if client_addr:
                attributes["client.address"] = client_addr
            ua = environ.get("HTTP_USER_AGENT")
            if ua:
                attributes["user_agent.original"] = ua
            query = environ.get("QUERY_STRING")
            if query:
                attributes["url.query"] = st.redactor.redact_query(query)
            protocol = environ.get("SERVER_PROTOCOL", "")
            if protocol.startswith("HTTP/"):
                attributes["network.protocol.version"] = protocol[5:]
            if not span.is_recording():
                attributes = None  # set once at the end, with the route, on kept spans only
            sc = span.get_span_context()
            trace_hex = format(sc.trace_id, "032x")
            span_hex = format(sc.span_id, "016x")
            sampled = sc.trace_flags.sampled
            token = enter_span(span, parent, trace_hex, span_hex)
        error: BaseException | None = None
        try:
            return self.app(environ, start_response_wrapper)
        except BaseException as exc:
            error = exc
            if trace_hex is not None:
                with contextlib.suppress(AttributeError):
                    setattr(exc, _EXCEPTION_IDS, (trace_hex, span_hex))
            raise
        finally:
            active.dec()
            error = _state.settle_error(error, started, status, environ)
            try:
                _state.finish_request(
                    st, span, attributes, raw_method, method, route_of_environ(environ), path,
                    status, start, trace_hex, span_hex, sampled, client_addr, error,
                )  # fmt: skip
            finally:
                if token is not None:
                    leave_span(token)
