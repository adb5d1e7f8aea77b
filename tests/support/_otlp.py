"""A small OTLP/HTTP trace receiver on 127.0.0.1, for tests that need to see exported spans.

It accepts ``POST /v1/traces`` with a protobuf ``ExportTraceServiceRequest`` body (plain, gzip or
deflate, as the OpenTelemetry exporters send it) and keeps every span in memory, decoded into plain
Python values (hex ids, attribute dicts).  ``/v1/metrics`` and ``/v1/logs`` are accepted and counted
so an exporter of those signals does not log errors, but their payloads are not decoded.
``GET /stats`` answers ``{"requests": N, "spans": N, "errors": N}``.

With ``keep_spans=False`` the spans are only counted, never kept: what the benchmarks run, in its
own process, so a long soak does not grow it (``benchmarks/_receiver.py``).

Usage::

    with OtlpReceiver() as receiver:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        ...
        spans = receiver.wait_for_trace(trace_id, count=1, timeout=10)
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from examples.stack import LocalServer, QuietHandler
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

__all__ = ["OtlpReceiver", "ReceivedSpan"]

_SPAN_KINDS = {
    Span.SPAN_KIND_UNSPECIFIED: "UNSPECIFIED",
    Span.SPAN_KIND_INTERNAL: "INTERNAL",
    Span.SPAN_KIND_SERVER: "SERVER",
    Span.SPAN_KIND_CLIENT: "CLIENT",
    Span.SPAN_KIND_PRODUCER: "PRODUCER",
    Span.SPAN_KIND_CONSUMER: "CONSUMER",
}
_STATUS_CODES = {
    Status.STATUS_CODE_UNSET: "UNSET",
    Status.STATUS_CODE_OK: "OK",
    Status.STATUS_CODE_ERROR: "ERROR",
}


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver decoded it; ids are lower-case hex, ``parent_span_id`` is
    ``None`` for a root span."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    attributes: dict[str, Any]
    status_code: str
    status_message: str
    resource: dict[str, Any]
    scope: str
    start_ns: int
    end_ns: int
    events: tuple[tuple[str, dict[str, Any]], ...] = field(default=())

    @property
    def duration_s(self) -> float:
        """Span duration in seconds."""
        return (self.end_ns - self.start_ns) / 1e9


def _any_value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return bytes(value.bytes_value)
    return getattr(value, which)


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in pairs}


def decode_request(body: bytes) -> list[ReceivedSpan]:
    """Decode a protobuf ``ExportTraceServiceRequest`` into :class:`ReceivedSpan` records."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        kind=_SPAN_KINDS.get(span.kind, str(span.kind)),
                        attributes=_attributes(span.attributes),
                        status_code=_STATUS_CODES.get(span.status.code, str(span.status.code)),
                        status_message=span.status.message,
                        resource=resource,
                        scope=scope_spans.scope.name,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        events=tuple((e.name, _attributes(e.attributes)) for e in span.events),
                    )
                )
    return spans


def count_spans(body: bytes) -> int:
    """Spans in one protobuf ``ExportTraceServiceRequest`` (parsed, not decoded into records)."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


def _decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding in ("", "identity"):
        return body
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


_EMPTY_RESPONSE = ExportTraceServiceResponse().SerializeToString()


class _Handler(QuietHandler):
    server: Any  # the LocalServer's, with ``receiver`` set
    protocol_version = "HTTP/1.1"  # keep-alive, as the exporter's requests.Session expects

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        receiver = self.server.receiver
        try:
            body = _decompress(raw, self.headers.get("Content-Encoding", ""))
            if self.path.rstrip("/") == "/v1/traces":
                receiver._receive(body)
            elif self.path.rstrip("/") in ("/v1/metrics", "/v1/logs"):
                receiver._count_other(self.path)
            else:
                self.reply(404, b"unknown OTLP path", "text/plain")
                return
        except Exception as exc:  # a malformed export is recorded, never crashes the receiver
            receiver._error(f"{self.path}: {exc!r}")
            self.reply(400, repr(exc).encode(), "text/plain")
            return
        self.reply(200, _EMPTY_RESPONSE, "application/x-protobuf")

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/stats":
            self.reply(404, b"unknown path", "text/plain")
            return
        self.reply(200, json.dumps(self.server.receiver.stats()).encode(), "application/json")


class SpanStore:
    """The spans a test receiver got, with thread-safe queries and bounded waits.

    Shared by the OTLP/HTTP receiver here and the OTLP/gRPC one in ``_otlp_grpc``.
    """

    #: Named in timeout messages (e.g. ``" over gRPC"``).
    _transport = ""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._spans: list[ReceivedSpan] = []
        self._errors: list[str] = []

    def _error(self, message: str) -> None:
        with self._cond:
            self._errors.append(message)
            self._cond.notify_all()

    # -- queries -----------------------------------------------------------------------------
    @property
    def spans(self) -> list[ReceivedSpan]:
        """A snapshot of every span received so far, in arrival order."""
        with self._cond:
            return list(self._spans)

    @property
    def errors(self) -> list[str]:
        """Exports the receiver could not decode (should stay empty)."""
        with self._cond:
            return list(self._errors)

    def clear(self) -> None:
        """Forget every span received so far."""
        with self._cond:
            self._spans.clear()

    def spans_for(self, trace_id: str) -> list[ReceivedSpan]:
        """Spans of one trace (``trace_id`` in hex, any case)."""
        wanted = trace_id.lower()
        return [s for s in self.spans if s.trace_id == wanted]

    def wait_for(
        self,
        predicate: Callable[[ReceivedSpan], bool],
        *,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[ReceivedSpan]:
        """Wait until at least ``count`` received spans satisfy ``predicate``; return them all.

        Raises:
            TimeoutError: naming how many matched and how many spans arrived in total.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                matched = [s for s in self._spans if predicate(s)]
                if len(matched) >= count:
                    return matched
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(matched)}/{count} matching spans after {timeout:.1f}s"
                        f"{self._transport} "
                        f"({len(self._spans)} spans received in total; decode errors: "
                        f"{self._errors[:3]})"
                    )
                self._cond.wait(min(remaining, 0.5))

    def wait_for_trace(
        self, trace_id: str, *, count: int = 1, timeout: float = 10.0
    ) -> list[ReceivedSpan]:
        """Wait until ``count`` spans of ``trace_id`` have arrived; return the trace's spans."""
        wanted = trace_id.lower()
        return self.wait_for(lambda s: s.trace_id == wanted, count=count, timeout=timeout)

    def wait_for_total(self, count: int, *, timeout: float = 10.0) -> list[ReceivedSpan]:
        """Wait until at least ``count`` spans have arrived in total."""
        return self.wait_for(lambda s: True, count=count, timeout=timeout)


class OtlpReceiver(SpanStore):
    """An OTLP/HTTP (protobuf) trace receiver on ``127.0.0.1`` on a free port.

    Start it with :meth:`start` or as a context manager; point an exporter at :attr:`endpoint`
    (the base URL, as ``OTEL_EXPORTER_OTLP_ENDPOINT`` expects).  All methods are thread-safe.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, keep_spans: bool = True) -> None:
        super().__init__()
        self._other: dict[str, int] = {}
        self.requests = 0
        #: False: spans are counted (:attr:`span_count`), not kept (``spans`` stays empty).
        self.keep_spans = keep_spans
        #: Spans received in total, kept or only counted.
        self.span_count = 0
        self._http = LocalServer(_Handler, host=host, port=port)
        self._http.server.receiver = self  # type: ignore[attr-defined]

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The TCP port the receiver listens on."""
        return self._http.port

    @property
    def endpoint(self) -> str:
        """Base URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the exporter appends ``/v1/traces``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def traces_url(self) -> str:
        """Full URL for ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``."""
        return f"{self.endpoint}/v1/traces"

    def start(self) -> OtlpReceiver:
        """Serve in a daemon thread; returns ``self``."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        self._http.stop()

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, int]:
        """Trace exports accepted, spans in them, exports that could not be decoded."""
        with self._cond:
            return {
                "requests": self.requests,
                "spans": self.span_count,
                "errors": len(self._errors),
            }

    # -- recording (called by the handler) ---------------------------------------------------
    def _receive(self, body: bytes) -> None:
        spans = decode_request(body) if self.keep_spans else []
        count = len(spans) if self.keep_spans else count_spans(body)
        with self._cond:
            self.requests += 1
            self.span_count += count
            self._spans.extend(spans)
            self._cond.notify_all()

    def _count_other(self, path: str) -> None:
        with self._cond:
            self._other[path] = self._other.get(path, 0) + 1
