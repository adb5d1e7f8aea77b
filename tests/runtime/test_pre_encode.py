"""Server spans are written to OTLP bytes as they are queued, not a batch at a time.

The export thread used to encode a whole batch in one stretch while holding the GIL; requests
arriving meanwhile waited (the soak's tail latency, benchmarks/README.md).  obskit's processor
now has each ended server span written in the thread that ended it (``span.otlp``); the export
thread joins the bytes and sends them.  These tests check that what arrives is unchanged — the
official encoder's message, secrets redacted — and that every way out of the fast path still
exports the span.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from tests.support import OtlpReceiver

from obskit._runtime.redact import REDACTED, Redactor
from obskit._runtime.tracing import otlp
from obskit._runtime.tracing.setup import BoundedBatchProcessor, DropCounter, RedactingExporter
from obskit._runtime.tracing.span import ServerSpan, ServerSpans


def _pipeline(endpoint: str, errors: list[BaseException]) -> tuple[Any, BoundedBatchProcessor]:
    """obskit's export pipeline (its exporter, the redacting wrapper, the bounded batch
    processor) to ``endpoint``, and a tracer provider that feeds it."""
    exporter = otlp.make_exporter(errors.append, endpoint=endpoint, timeout=5)
    redacting = RedactingExporter(exporter, Redactor(frozenset({"authorization"})), None)
    processor = BoundedBatchProcessor(
        redacting,
        DropCounter(lambda n: None),
        max_export_batch_size=64,
        schedule_delay_millis=60_000,
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(processor)
    return provider, processor


def _end_server_span(provider: TracerProvider, path: str, **extra: Any) -> Any:
    spans = ServerSpans.for_tracer(provider.get_tracer("obskit", "1.0"))
    assert spans is not None
    span: Any = spans.start("GET", None, {"http.request.method": "GET", "url.path": path})
    assert type(span) is ServerSpan
    for key, value in extra.items():
        span.set_attribute(key.replace("_", "."), value)
    span.finish_attributes({"http.response.status_code": 200, "http.route": path}, f"GET {path}")
    span.end()
    return span


def test_a_queued_server_span_is_written_once_and_arrives_as_the_official_encoder_writes_it() -> (
    None
):
    """Each server span carries its OTLP bytes from the moment it is queued; the receiver gets
    exactly the official encoder's message for those spans (parsed and compared)."""
    errors: list[BaseException] = []
    with OtlpReceiver() as receiver:
        provider, processor = _pipeline(receiver.traces_url, errors)
        ended = [_end_server_span(provider, f"/items/{i}", app_tier="gold") for i in range(3)]
        assert all(isinstance(span.otlp, bytes) and span.otlp for span in ended)
        assert ExportTraceServiceRequest.FromString(otlp.encode_request(ended)) == encode_spans(
            ended
        )
        assert processor.force_flush(5000)
        received = receiver.wait_for_total(3)
    assert not errors
    assert sorted(s.name for s in received) == ["GET /items/0", "GET /items/1", "GET /items/2"]
    assert all(s.attributes["app.tier"] == "gold" for s in received)


def test_a_span_with_a_secret_is_left_to_the_export_thread_and_arrives_redacted() -> None:
    """A span with a secret attribute is not written early (its bytes would hold the secret):
    the export thread redacts and encodes it as before."""
    errors: list[BaseException] = []
    with OtlpReceiver() as receiver:
        provider, processor = _pipeline(receiver.traces_url, errors)
        plain = _end_server_span(provider, "/plain")
        secret = _end_server_span(provider, "/secret", http_request_header_authorization="Bearer x")
        assert plain.otlp is not None
        assert secret.otlp is None
        assert processor.force_flush(5000)
        received = {s.name: s for s in receiver.wait_for_total(2)}
    assert not errors
    assert received["GET /secret"].attributes["http.request.header.authorization"] == REDACTED
    assert "Bearer x" not in repr(received["GET /secret"].attributes)


def test_no_early_bytes_when_the_writer_is_off_and_a_failure_leaves_the_span_to_its_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the writer switched off (the start-up self-test found it differs from the official
    encoder) nothing is written early; when writing a span fails as it is queued, the span is
    queued as it is, its batch's own encoding falls back to the official encoder (reported to
    ``on_encode_error``) and the span still arrives."""
    errors: list[BaseException] = []
    with OtlpReceiver() as receiver:
        provider, processor = _pipeline(receiver.traces_url, errors)
        exporter: Any = processor._redacting.inner  # type: ignore[union-attr]
        exporter.fast_encode = False
        off = _end_server_span(provider, "/off")
        assert off.otlp is None
        exporter.fast_encode = True

        def broken(span: Any) -> bytes:
            raise ValueError("writer broke")

        monkeypatch.setattr(otlp, "_plain_span", broken)
        failed = _end_server_span(provider, "/failed")
        assert failed.otlp is None
        assert processor.force_flush(5000)
        received = receiver.wait_for_total(2)
    assert sorted(s.name for s in received) == ["GET /failed", "GET /off"]
    assert [str(e) for e in errors] == ["writer broke"]
