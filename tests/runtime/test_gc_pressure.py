"""What an ended server span keeps alive while it waits in the export queue.

Queued spans outlive their request; every GC-tracked object they hold is promoted to the old
generation when a young collection runs, and promoted objects bring on full collections (pauses
of tens of ms under load, see benchmarks/README.md "Soak").  These tests pin the two things
that keep that away: a queued span holds two tracked objects of its own, and a default export
batch of them stays below the collector's young-generation threshold.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from obskit._config import resolve
from obskit._otlp import encode_request
from obskit._redact import Redactor
from obskit._span import ServerSpan, ServerSpans
from obskit._tracing import DropCounter, build_provider


def _ended(limits: SpanLimits | None = None) -> tuple[ServerSpan, ServerSpan, InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(span_limits=limits or SpanLimits())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    spans = ServerSpans.for_tracer(provider.get_tracer("t"))
    assert spans is not None
    ended = []
    for path in ("/a", "/b"):
        span: Any = spans.start("GET", None, {"http.request.method": "GET", "url.path": path})
        assert type(span) is ServerSpan
        span.set_attribute("app.tier", "gold")
        span.finish_attributes({"http.response.status_code": 200, "http.route": path}, "GET r")
        span.end()
        ended.append(span)
    return ended[0], ended[1], memory


def _own_tracked(span: Any, other: Any) -> list[Any]:
    """GC-tracked objects ``span`` refers to that the other span (same tracer) does not share."""
    shared = {id(o) for o in gc.get_referents(other)}
    return [o for o in gc.get_referents(span) if gc.is_tracked(o) and id(o) not in shared]


def test_an_ended_server_span_holds_only_its_span_context() -> None:
    """Besides itself, an ended server span holds one tracked object of its own (its
    SpanContext): no lock, no attribute wrapper; its attributes dict is not tracked."""
    first, second, _ = _ended()
    own = _own_tracked(first, second)
    assert [type(o).__name__ for o in own] == ["SpanContext"]
    assert not gc.is_tracked(first._attributes)


def test_an_ended_server_span_still_reads_and_exports_as_before(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Attributes, dropped count and OTLP encoding of the ended span are unchanged, and a late
    ``set_attribute`` is refused with the SDK's warning, not an error."""
    first, _, memory = _ended()
    assert dict(first.attributes) == {
        "http.request.method": "GET",
        "url.path": "/a",
        "app.tier": "gold",
        "http.response.status_code": 200,
        "http.route": "/a",
    }
    assert first.dropped_attributes == 0
    assert memory.get_finished_spans()[0] is first
    assert b"app.tier" in encode_request([first])
    with caplog.at_level(logging.WARNING, logger="opentelemetry.sdk.trace"):
        first.set_attribute("late", 1)
    assert "late" not in first.attributes
    assert any("ended span" in r.getMessage() for r in caplog.records)


def test_a_span_that_dropped_attributes_keeps_reporting_them() -> None:
    """With an attribute limit hit, the ended span keeps its count of dropped attributes (the
    limit counts the user's attributes: obskit's own four always stay)."""
    first, _, _ = _ended(SpanLimits(max_span_attributes=0))
    assert sorted(first.attributes) == [
        "http.request.method",
        "http.response.status_code",
        "http.route",
        "url.path",
    ]
    assert first.dropped_attributes == 1


def test_a_default_export_batch_stays_below_the_young_generation_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """obskit's default export batch (128 spans, not the SDK's 512) times the tracked objects
    a queued span holds (itself and its SpanContext) is below the collector's young-generation
    threshold; ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` still wins."""
    monkeypatch.delenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", raising=False)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    config = resolve({"metrics_port": 0})
    _, processor = build_provider(config, Redactor(frozenset()), DropCounter(lambda n: 0))
    assert processor is not None
    try:
        assert processor._batch == 128
        assert processor._batch * 2 < gc.get_threshold()[0]
    finally:
        processor.shutdown(100)
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64")
    _, processor = build_provider(config, Redactor(frozenset()), DropCounter(lambda n: 0))
    assert processor is not None
    try:
        assert processor._batch == 64
    finally:
        processor.shutdown(100)
