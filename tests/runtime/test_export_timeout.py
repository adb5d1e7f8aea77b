"""``OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT`` is milliseconds (the OpenTelemetry specification), not
the Python SDK's seconds: against a real hung collector, an export gives up within that time."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult

from obskit import _envcheck, _tracing

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support import BlackHole

#: Read as seconds (the SDK's unit) this would hold the export thread for 6 minutes.
_TIMEOUT_MS = 400
#: Slack for a loaded 2-core machine; far below what seconds would mean.
_UPPER_S = 2.5


def _span() -> ReadableSpan:
    span = TracerProvider().get_tracer("t").start_span("timed")
    span.end()
    assert isinstance(span, ReadableSpan)
    return span


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"]
)
def test_export_to_a_hung_collector_gives_up_within_the_configured_milliseconds(
    monkeypatch: pytest.MonkeyPatch, variable: str, protocol: str
) -> None:
    """A collector on 127.0.0.1 that accepts and never answers: the export fails after about
    400 ms (not 400 s), so a hung collector cannot hold the export thread."""
    for name in ("OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    with BlackHole() as hole:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", hole.endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        monkeypatch.setenv(variable, str(_TIMEOUT_MS))
        assert _envcheck.check() == []
        exporter = _tracing._exporter()
        assert exporter is not None
        results: list[SpanExportResult] = []
        thread = threading.Thread(target=lambda: results.append(exporter.export([_span()])))
        started = time.monotonic()
        thread.start()
        thread.join(30)
        took = time.monotonic() - started
        assert not thread.is_alive(), f"export still waiting after {took:.0f}s"
        assert results == [SpanExportResult.FAILURE]
        assert hole.accepted >= 1, "the exporter never reached the collector"
        assert _TIMEOUT_MS / 1000 * 0.5 <= took < _UPPER_S, f"gave up after {took:.3f}s"
        exporter.shutdown()


def test_timeout_unit_conversion() -> None:
    """The traces variable wins; milliseconds become seconds; unset is obskit's 3 s."""
    assert _envcheck.export_timeout_s({}) == 3.0
    assert _envcheck.export_timeout_s({"OTEL_EXPORTER_OTLP_TIMEOUT": "2000"}) == 2.0
    assert (
        _envcheck.export_timeout_s(
            {"OTEL_EXPORTER_OTLP_TIMEOUT": "2000", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "250"}
        )
        == 0.25
    )
