"""obskit's OTLP span writer produces exactly what the official encoder produces."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from obskit._runtime.tracing.otlp import encode_request, make_exporter


def _spans() -> list[ReadableSpan]:
    """Spans of every shape: kinds, all value types, events, links, remote parent, status."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "svc", "process.pid": 42, "flag": True})
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("obskit", "1.0", schema_url="https://opentelemetry.io/s/1.26")
    other = provider.get_tracer("lib")
    remote = SpanContext(
        0x0AF7651916CD43DD8448EB211C80319C,
        0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState([("vendor", "v1"), ("x", "y")]),
    )
    with tracer.start_as_current_span(
        "GET /items/{id}",
        context=set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": "GET",
            "http.response.status_code": 500,
            "negative": -7,
            "ratio": 0.25,
            "ok": False,
            "empty": "",
            "zero": 0,
            "list": ["a", "b"],
            "ints": (1, 2, 3),
            "unicode": "héllo ☃",
        },
        links=[Link(remote, {"link.attr": "x"})],
    ) as span:
        span.add_event("cache miss", {"key": "k1", "size": 3})
        span.record_exception(ValueError("boom"))
        span.set_status(Status(StatusCode.ERROR, "bad things"))
        with other.start_as_current_span("child", kind=SpanKind.CLIENT):
            pass
    for kind in (SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER):
        tracer.start_span("k", kind=kind).end()
    tracer.start_span("").end()
    ok = tracer.start_span("ok")
    ok.set_status(Status(StatusCode.OK))
    ok.end()
    return list(memory.get_finished_spans())


def test_same_message_as_the_official_encoder() -> None:
    """Parsed with the official classes, obskit's bytes equal the official request."""
    spans = _spans()
    official = encode_spans(spans)
    ours = ExportTraceServiceRequest.FromString(encode_request(spans))
    assert ours == official


def test_known_keys_and_string_lengths_around_one_byte_lengths_match_the_official() -> None:
    """String values of every length around the one-byte length limits (125-129 bytes, 16 KiB,
    multi-byte UTF-8), under keys the writer has already seen (its one-step path for known keys)
    and under new ones, on plain-dict (ended server span) and SDK attribute maps alike: the same
    message as the official encoder's, at the first and at the second encoding."""
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("lengths")
    for n in (0, 1, 124, 125, 126, 127, 128, 129, 200, 16_384):
        attrs = {"url.path": "/" + "p" * n, f"new.key.{n}": "é" * (n // 2), "user.id": "x" * n}
        tracer.start_span(f"len {n}", kind=SpanKind.SERVER, attributes=attrs).end()
    spans = list(memory.get_finished_spans())
    unwrapped = [
        ReadableSpan(
            name=s.name,
            context=s.context,
            attributes=dict(s.attributes),
            kind=s.kind,
            resource=s.resource,
            instrumentation_scope=s.instrumentation_scope,
            start_time=s.start_time,
            end_time=s.end_time,
        )
        for s in spans
    ]
    for batch in (spans, unwrapped):
        for _ in range(2):  # the second time every key is known to the writer
            ours = ExportTraceServiceRequest.FromString(encode_request(batch))
            assert ours == encode_spans(batch)


def test_obskit_exporter_sends_the_writers_bytes_and_falls_back_per_batch() -> None:
    """obskit's exporter (a subclass of the official one) sends what its writer encodes; a
    batch with a value the writer does not know goes out encoded by the official encoder, and
    the failure is reported to ``on_encode_error`` (counted and logged by obskit)."""
    from tests.support import OtlpReceiver

    errors: list[BaseException] = []
    spans = _spans()
    odd = ReadableSpan(
        name="odd", context=spans[0].context, attributes={"weird": object(), "fine": 1}
    )
    with OtlpReceiver() as receiver:
        exporter = make_exporter(errors.append, endpoint=receiver.traces_url, timeout=5)
        assert exporter.missing_internal is None
        assert exporter.export(spans).name == "SUCCESS"
        assert not errors
        assert exporter.export([odd]).name == "SUCCESS"
        received = receiver.wait_for_total(len(spans) + 1)
    assert len(errors) == 1
    assert sorted(s.name for s in received) == sorted([s.name for s in spans] + ["odd"])
    weird = next(s for s in received if s.name == "odd")
    assert weird.attributes["fine"] == 1
