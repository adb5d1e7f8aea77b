"""Plain WSGI middleware, the twin of :mod:`obskit._runtime.http.asgi`.

The route template comes from what the framework matched: ``environ["obskit.route"]`` when set
(Flask: copied there right after Flask's own matching; Django's route middleware; custom apps),
else a werkzeug request's ``url_rule`` — nothing is re-matched.  WSGI servers reuse
threads, so structlog's contextvars are cleared at the start of each request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from obskit import conventions as c
from obskit._runtime import state as _state
from obskit._runtime.http.request import Request, begin

__all__ = ["ObskitWSGI", "route_of_environ"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_UNMATCHED: Final = c.UNMATCHED_ROUTE
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
        client = environ.get("REMOTE_ADDR") or None
        scheme: str = environ.get("wsgi.url_scheme", "http")
        req = begin(_WSGIRequest, st, environ.get("REQUEST_METHOD", "GET"), path, scheme, client)
        environ["obskit.start"] = req.start
        req.start_response = start_response
        tracer = st.tracer
        if tracer is not None:
            parent = None
            if "HTTP_TRACEPARENT" in environ or "HTTP_BAGGAGE" in environ:
                carrier = {name: environ[key] for key, name in _HEADERS if key in environ}
                parent = st.propagator.extract(carrier)
            if req.start_span(tracer, parent, scheme):
                attributes: Any = req.attributes
                ua = environ.get("HTTP_USER_AGENT")
                if ua:
                    attributes["user_agent.original"] = ua
                query = environ.get("QUERY_STRING")
                if query:
                    attributes["url.query"] = st.redactor.redact_query(query)
                protocol = environ.get("SERVER_PROTOCOL", "")
                if protocol.startswith("HTTP/"):
                    attributes["network.protocol.version"] = protocol[5:]
        error: BaseException | None = None
        try:
            return self.app(environ, req.start_response_wrapper)
        except BaseException as exc:
            error = exc
            req.failed(exc)
            raise
        finally:
            req.finish(route_of_environ(environ), req.settle(error, environ))


class _WSGIRequest(Request):
    """The request record plus the server's ``start_response``, which gives the status."""

    __slots__ = ("start_response",)
    start_response: StartResponse

    def start_response_wrapper(self, status_line: str, headers: Any, exc_info: Any = None) -> Any:
        try:
            self.status = int(status_line[:3])
        except ValueError:
            self.status = 500
        self.started = True
        if exc_info is None:
            return self.start_response(status_line, headers)
        return self.start_response(status_line, headers, exc_info)
