"""One request in flight, shared by the ASGI and WSGI middleware: begin → settle → finish.

The adapters (:mod:`.asgi`, :mod:`.wsgi`) only translate their protocol — where the method,
path, headers and route are, how the status comes back — into one :class:`Request` record;
everything a request records (the active gauge, the server span and its attributes, the
histogram observation with its exemplar, the access line, the exception's ids) happens here,
once.  The record has ``__slots__`` and replaces the closure cells and the 14-argument call the
two middlewares used to need, so the hot path allocates no more than before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from contextvars import Token
from logging import INFO
from time import perf_counter
from typing import Any, Final, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

from obskit import conventions as c
from obskit._runtime.context import enter_span, leave_span
from obskit._runtime.logs import bindings as _bindings
from obskit._runtime.logs.bindings import clear_contextvars as _clear_contextvars
from obskit._runtime.state import State
from obskit._runtime.tracing.span import ServerSpan

__all__ = ["EXCEPTION_IDS", "Request", "begin"]

_STANDARD: Final = c.STANDARD_METHODS
_OTHER: Final = c.METHOD_OTHER
#: The span name's method for ``_OTHER`` requests (never the attacker's text).
_SPAN_OTHER: Final = c.SPAN_METHOD_OTHER
_UNMATCHED: Final = c.UNMATCHED_ROUTE
_SERVER: Final = SpanKind.SERVER
_NonRecordingSpan: Final = trace.NonRecordingSpan
_ERROR: Final = trace.Status(trace.StatusCode.ERROR)
#: Set on an exception leaving the app: the server logs it after the request's context is gone,
#: and the stdlib bridge finds the request's ids on the exception itself.
EXCEPTION_IDS: Final = "__obskit_ids__"


R = TypeVar("R", bound="Request")
_new = object.__new__


def begin(
    cls: type[R], st: State, raw_method: str, path: str, scheme: str, client: str | None
) -> R:
    """A new request record (of the adapter's subclass ``cls``): the clock, the active gauge,
    a clean log context, a redacted path.

    A function rather than ``__init__``: instantiating a class with a Python ``__init__`` is a
    slow call in CPython 3.11 (not inlined), and this runs once per request."""
    req: R = _new(cls)
    req.st = st
    req.start = perf_counter()
    if ";" in path or "?" in path:  # ;name=value parameters (or a decoded %3F) in the path
        path = st.redactor.redact_path(path)
    req.path = path
    # Servers reuse threads (WSGI) and in-process clients reuse one context (httpx's
    # ASGITransport, test clients): bindings must not leak across requests.  No call when
    # structlog never bound a key in this process (its dict of vars is empty).
    bound = _bindings._BOUND_VARS
    if bound is None or bound:
        _clear_contextvars()
    req.raw_method = raw_method
    req.method = method = raw_method if raw_method in _STANDARD else _OTHER
    req.client = client
    start, req.active_end = st.metrics.active_calls(method, scheme)
    start()
    req.status = 500
    req.started = False
    if st.tracer is None:  # else start_span() sets them (the adapters call it then)
        req.span = req.attributes = req.token = req.trace_hex = req.span_hex = None
        req.sampled = False
    return req


class Request:
    """One measured request, from :func:`begin` to :meth:`finish`."""

    __slots__ = (
        "active_end",
        "attributes",
        "client",
        "method",
        "path",
        "raw_method",
        "sampled",
        "span",
        "span_hex",
        "st",
        "start",
        "started",
        "status",
        "token",
        "trace_hex",
    )

    st: State
    start: float
    path: str
    raw_method: str
    method: str
    client: str | None
    active_end: Callable[[], Any]
    status: int
    started: bool
    span: Any
    attributes: dict[str, Any] | None
    token: Token[Context] | None
    trace_hex: str | None
    span_hex: str | None
    sampled: bool

    def start_span(self, tracer: trace.Tracer, parent: Context | None, scheme: str) -> bool:
        """Start the server span and make it current; True when it records (the adapter then
        adds its protocol's attributes to :attr:`attributes`, set once at the end)."""
        spans = self.st.server_spans
        if parent is None and spans is not None and spans.drops_roots:
            made = spans.start_dropped_root()
            if made is not None:  # not sampled, no parent: no attributes, no sampler call
                span, trace_id, span_id = made
                self.span = span
                self.sampled = False
                self.attributes = None
                self.trace_hex = trace_hex = "%032x" % trace_id  # noqa: UP031 - fastest
                self.span_hex = span_hex = "%016x" % span_id  # noqa: UP031
                self.token = enter_span(span, None, trace_hex, span_hex)
                return False
        method = self.method
        initial = {"http.request.method": method, "url.path": self.path, "url.scheme": scheme}
        name = method
        if method is _OTHER:  # attacker-chosen text: never a span name or method value
            name = _SPAN_OTHER
            initial["http.request.method_original"] = self.raw_method
        if spans is not None:
            span, trace_id, span_id, self.sampled = spans.start_ids(name, parent, initial)
        else:
            span = tracer.start_span(name, parent, _SERVER, initial)
            sc = span.get_span_context()
            trace_id, span_id, self.sampled = sc.trace_id, sc.span_id, sc.trace_flags.sampled
        self.span = span
        # A ServerSpan always records; the lean path's unsampled span never does.
        kind = type(span)
        recording = kind is ServerSpan or (kind is not _NonRecordingSpan and span.is_recording())
        attributes: dict[str, Any] | None = None
        if recording:
            # Unsampled requests skip the rest of the attribute work.
            attributes = {}
            if self.client:
                attributes["client.address"] = self.client
        self.attributes = attributes
        # printf-style: a third of an f-string's time with a format spec (which goes through
        # int.__format__'s general formatter); the same digits.
        self.trace_hex = trace_hex = "%032x" % trace_id  # noqa: UP031 - fastest
        self.span_hex = span_hex = "%016x" % span_id  # noqa: UP031
        self.token = enter_span(span, parent, trace_hex, span_hex)
        return recording

    def failed(self, exc: BaseException) -> None:
        """The app raised ``exc``: leave the request's ids on it for the server's own log line."""
        if self.trace_hex is not None:
            with contextlib.suppress(AttributeError):
                setattr(exc, EXCEPTION_IDS, (self.trace_hex, self.span_hex))

    def settle(
        self, error: BaseException | None, carrier: Mapping[str, Any]
    ) -> BaseException | None:
        """The exception the finished request is charged with.

        An exception raised after a non-5xx response was already sent (e.g. a client disconnect)
        does not make the request an error; a 5xx the framework produced itself may hand its
        exception over in ``carrier["obskit.error"]`` (the ASGI scope or WSGI environ: Django,
        Flask) so the span still records it.  ``carrier`` is read only on that 5xx path.
        """
        status = self.status
        if error is not None and self.started and status < 500:
            return None
        if error is None and status >= 500:
            handed_over = carrier.get("obskit.error")
            if isinstance(handed_over, BaseException):
                return handed_over
        return error

    def finish(self, route: str, error: BaseException | None) -> None:
        """Record the metric, end the span, write the access line, restore the context."""
        self.active_end()
        try:
            st = self.st
            status = self.status
            method = self.method
            seconds = perf_counter() - self.start
            trace_hex = self.trace_hex
            st.metrics.observe_http(
                method, route, status, seconds, trace_hex if self.sampled else None
            )
            span = self.span
            if span is not None:
                attributes = self.attributes
                if attributes is not None:  # a recording span: every attribute in one call
                    attributes["http.response.status_code"] = status
                    name = None
                    if route != _UNMATCHED:
                        name = f"{_SPAN_OTHER if method is _OTHER else method} {route}"
                        attributes["http.route"] = route
                    if error is not None:
                        span.record_exception(error)
                        attributes["error.type"] = type(error).__qualname__
                        span.set_status(_ERROR)
                    elif status >= 500:
                        attributes["error.type"] = str(status)
                        span.set_status(_ERROR)
                    if type(span) is ServerSpan:
                        span.finish_attributes(attributes, name)
                    else:
                        if name is not None:
                            span.update_name(name)
                        span.set_attributes(attributes)
                    span.end()
                elif type(span) is not _NonRecordingSpan:  # its end() does nothing
                    span.end()
            if st.access_log and st.pipeline.level <= INFO:
                st.pipeline.access_request(
                    self.raw_method, route, self.path, status, seconds, self.client, trace_hex,
                    self.span_hex,
                )  # fmt: skip
        finally:
            token = self.token
            if token is not None:
                leave_span(token)
