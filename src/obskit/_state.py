"""The runtime's process-wide state, read by the middleware on every request.

A single module-level ``STATE`` (None before ``init()``) keeps the hot path to one global read, and
lets ``obskit.testing`` swap in an isolated state (registry, in-memory spans, captured logs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from opentelemetry import trace
from opentelemetry.propagators.textmap import TextMapPropagator

from obskit import conventions as c
from obskit._config import Config
from obskit._logs import LogPipeline
from obskit._metrics import Metrics
from obskit._redact import Redactor
from obskit._span import ServerSpan

__all__ = ["STATE", "State", "finish_request", "get_state"]

_INFO = logging.INFO
_OTHER = c.METHOD_OTHER
#: The span name's method for ``_OTHER`` requests (never the attacker's text).
_SPAN_OTHER = c.SPAN_METHOD_OTHER


@dataclass(eq=False)
class State:
    """Everything the middleware needs, resolved once by ``init()``."""

    config: Config
    redactor: Redactor
    pipeline: LogPipeline
    metrics: Metrics
    tracer: trace.Tracer | None
    propagator: TextMapPropagator
    excluded: frozenset[str]
    access_log: bool
    extras: dict[str, Any] = field(default_factory=dict)
    #: Lean server spans for ``tracer`` (``obskit._span.ServerSpans``); None: ``tracer`` is used.
    server_spans: Any = None
    #: ``OTEL_PYTHON_[<FRAMEWORK>_]EXCLUDED_URLS`` (``obskit._urls.ExcludedURLs``); None: unset.
    excluded_urls: Any = None

    def __post_init__(self) -> None:
        if self.server_spans is None and self.tracer is not None:
            from obskit._span import ServerSpans

            self.server_spans = ServerSpans.for_tracer(self.tracer)

    def is_excluded(self, path: str) -> bool:
        """Whether ``path`` (trailing ``/`` ignored) is excluded from measurement."""
        excluded = self.excluded
        if path in excluded:
            return True
        return path[-1:] == "/" and len(path) > 1 and path.rstrip("/") in excluded


STATE: State | None = None


def get_state() -> State | None:
    """The current state (None before ``init()``)."""
    return STATE


def settle_error(
    error: BaseException | None, started: bool, status: int, request: Mapping[str, Any]
) -> BaseException | None:
    """The exception a finished request is charged with, shared by the ASGI and WSGI middleware.

    An exception raised after a non-5xx response was already sent (e.g. a client disconnect)
    does not make the request an error; a 5xx the framework produced itself may hand its
    exception over in ``request["obskit.error"]`` (the ASGI scope or WSGI environ: Django,
    Flask) so the span still records it.  ``request`` is read only on that 5xx path.
    """
    if error is not None and started and status < 500:
        return None
    if error is None and status >= 500:
        handed_over = request.get("obskit.error")
        if isinstance(handed_over, BaseException):
            return handed_over
    return error


def finish_request(
    st: State,
    span: Any,
    attributes: dict[str, Any] | None,
    raw_method: str,
    method: str,
    route: str,
    path: str,
    status: int,
    start: float,
    trace_hex: str | None,
    span_hex: str | None,
    sampled: bool,
    client: str | None,
    exc: BaseException | None,
) -> None:
    """Record the metric, end the span and write the access line for one finished request."""
    seconds = perf_counter() - start
    st.metrics.observe_http(method, route, status, seconds, trace_hex if sampled else None)
    if span is not None:
        if attributes is not None:  # a recording span: every attribute in one call
            attributes["http.response.status_code"] = status
            name = None
            if route != c.UNMATCHED_ROUTE:
                name = f"{_SPAN_OTHER if method is _OTHER else method} {route}"
                attributes["http.route"] = route
            if exc is not None:
                span.record_exception(exc)
                attributes["error.type"] = type(exc).__qualname__
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            elif status >= 500:
                attributes["error.type"] = str(status)
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            if type(span) is ServerSpan:
                span.finish_attributes(attributes, name)
            else:
                if name is not None:
                    span.update_name(name)
                span.set_attributes(attributes)
        span.end()
    if st.access_log and st.pipeline.level <= _INFO:
        st.pipeline.access_request(
            raw_method, route, path, status, seconds, client, trace_hex, span_hex
        )
