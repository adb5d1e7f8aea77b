"""The export side: redaction with its known-safe key cache, the batch hand-off to the thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from obskit._runtime.config import resolve
from obskit._runtime.redact import REDACTED, Redactor
from obskit._runtime.tracing import setup as _tracing
from obskit._runtime.tracing.setup import BoundedBatchProcessor, DropCounter, RedactingExporter


def test_known_safe_keys_do_not_hide_a_new_secret() -> None:
    """Spans whose keys were all seen safe pass untouched; one more key that is secret is still
    redacted, and the span without it is not."""
    memory = InMemorySpanExporter()
    redactor = Redactor(resolve({}, env={}).redact_keys)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(memory, redactor, None)))
    tracer = provider.get_tracer("t")
    for attrs in (
        {"http.route": "/a", "auth_method": "oauth"},
        {"http.route": "/a", "auth_method": "oauth"},
        {"http.route": "/a", "auth_method": "oauth", "api_key": "k"},
        {"http.route": "/b", "auth_method": "basic"},
    ):
        tracer.start_span("s", attributes=attrs).end()
    got = [dict(s.attributes or {}) for s in memory.get_finished_spans()]
    assert got[0] == {"http.route": "/a", "auth_method": "oauth"}
    assert got[2]["api_key"] == REDACTED
    assert got[2]["auth_method"] == "oauth"
    assert got[3] == {"http.route": "/b", "auth_method": "basic"}


class _Recording(SpanExporter):
    """Records the batches it gets; optionally blocks until released."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.release = threading.Event()
        self.release.set()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait(10)
        self.batches.append(len(spans))
        return SpanExportResult.SUCCESS


def _processor(inner: SpanExporter, batch: int) -> BoundedBatchProcessor:
    exporter = RedactingExporter(inner, Redactor(frozenset()), None)
    return BoundedBatchProcessor(
        exporter,
        DropCounter(lambda n: None),
        max_export_batch_size=batch,
        max_queue_size=64,
        schedule_delay_millis=60_000,
    )


def _spans(n: int) -> list[Any]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    for i in range(n):
        tracer.start_span(f"s{i}").end()
    return list(memory.get_finished_spans())


def test_full_batch_hands_the_gil_to_the_idle_export_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The span completing a batch returns only once the export thread has started exporting
    (so a busy request thread cannot starve it); the spans before it do not wait."""
    monkeypatch.setattr(_tracing, "_HANDOFF_S", 5.0)
    inner = _Recording()
    processor = _processor(inner, batch=8)
    try:
        spans = _spans(8)
        for span in spans[:7]:
            processor.on_end(span)
        assert not processor._started.is_set()
        begin = time.monotonic()
        processor.on_end(spans[7])
        assert processor._started.is_set()  # the export began before on_end returned
        assert time.monotonic() - begin < 5.0
    finally:
        processor.shutdown()
    assert sum(inner.batches) == 8


def test_no_hand_off_wait_while_the_thread_is_busy_exporting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the export thread is inside a (slow) export, a full batch does not make the request
    wait: the queue just fills, bounded as before."""
    monkeypatch.setattr(_tracing, "_HANDOFF_S", 5.0)
    inner = _Recording()
    inner.release.clear()  # the first export blocks, as with a slow collector
    processor = _processor(inner, batch=4)
    try:
        spans = _spans(8)
        for span in spans[:4]:
            processor.on_end(span)  # the 4th hands off; the export thread now blocks
        assert processor.span_exporter.busy  # type: ignore[attr-defined]
        begin = time.monotonic()
        for span in spans[4:]:
            processor.on_end(span)
        assert time.monotonic() - begin < 1.0
    finally:
        inner.release.set()
        processor.shutdown()
    assert sum(inner.batches) == 8
