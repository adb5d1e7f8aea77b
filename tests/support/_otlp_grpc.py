"""A small OTLP/gRPC trace receiver on 127.0.0.1, the gRPC twin of :mod:`tests.support._otlp`.

A real grpcio server implementing the collector's ``TraceService/Export`` method: every span it
receives is kept in memory, decoded into the same :class:`~tests.support._otlp.ReceivedSpan`
records as the OTLP/HTTP receiver's (hex ids, attribute dicts), and the request metadata of each
call is kept too (so a test can see which exporter sent it).

Usage::

    with GrpcOtlpReceiver() as receiver:
        env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
               "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        ...
        spans = receiver.wait_for_trace(trace_id, count=1, timeout=10)

It needs ``grpcio`` (installed with ``opentelemetry-exporter-otlp-proto-grpc``, in the ``dev``
extra).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import (
    TraceServiceServicer,
    add_TraceServiceServicer_to_server,
)
from tests.support._otlp import ReceivedSpan, SpanStore, decode_request

__all__ = ["GrpcOtlpReceiver"]


class _Servicer(TraceServiceServicer):
    def __init__(self, receiver: GrpcOtlpReceiver) -> None:
        self._receiver = receiver

    def Export(  # the generated service's method name
        self, request: ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> ExportTraceServiceResponse:
        metadata = {item.key: item.value for item in context.invocation_metadata()}
        try:
            # The same decoder as the HTTP receiver's: one definition of a ReceivedSpan.
            spans = decode_request(request.SerializeToString())
        except Exception as exc:  # a malformed export is recorded, never crashes the receiver
            self._receiver._error(repr(exc))
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, repr(exc))
        self._receiver._add(spans, metadata)
        return ExportTraceServiceResponse()


class GrpcOtlpReceiver(SpanStore):
    """An OTLP/gRPC trace receiver (plaintext, HTTP/2) on ``127.0.0.1`` on a free port.

    Start it with :meth:`start` or as a context manager; point a gRPC exporter at
    :attr:`endpoint` (``OTEL_EXPORTER_OTLP_ENDPOINT``; the ``http://`` scheme makes the exporter
    use an insecure channel).  All methods are thread-safe.
    """

    _transport = " over gRPC"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        self._metadata: list[dict[str, Any]] = []
        self._server = grpc.server(ThreadPoolExecutor(max_workers=4, thread_name_prefix="otlp-g"))
        add_TraceServiceServicer_to_server(_Servicer(self), self._server)
        self._port = self._server.add_insecure_port(f"{host}:{port}")
        if self._port == 0:
            raise OSError(f"cannot bind an OTLP/gRPC receiver on {host}:{port}")
        self._host = host
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The TCP port the receiver listens on."""
        return self._port

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``, for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (gRPC adds no path)."""
        return f"http://{self._host}:{self._port}"

    def start(self) -> GrpcOtlpReceiver:
        """Start serving (grpcio's own threads); returns ``self``."""
        if not self._started:
            self._server.start()
            self._started = True
        return self

    def stop(self) -> None:
        """Stop serving at once, cancelling calls in flight (idempotent, bounded wait)."""
        self._server.stop(grace=None).wait(timeout=5)
        self._started = False

    def __enter__(self) -> GrpcOtlpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- recording (called by the servicer) --------------------------------------------------
    def _add(self, spans: list[ReceivedSpan], metadata: dict[str, Any]) -> None:
        with self._cond:
            self._spans.extend(spans)
            self._metadata.append(metadata)
            self._cond.notify_all()

    # -- queries -----------------------------------------------------------------------------
    @property
    def requests(self) -> int:
        """How many ``Export`` calls succeeded."""
        with self._cond:
            return len(self._metadata)

    @property
    def metadata(self) -> list[dict[str, Any]]:
        """The request metadata (gRPC headers, e.g. ``user-agent``) of each ``Export`` call."""
        with self._cond:
            return [dict(m) for m in self._metadata]
