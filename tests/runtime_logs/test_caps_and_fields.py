"""Line caps (one process, several workers) and obskit's own fields, which callers cannot forge."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider

import obskit
from obskit._render import (
    LINE_MAX_BYTES,
    PIPE_LINE_MAX_BYTES,
    TRUNCATED_FIELD,
    USER_FIELD_PREFIX,
    fit,
)

from .conftest import Rendered

FORGED = {
    "level": "critical",
    "timestamp": "1999-01-01T00:00:00.000000Z",
    "trace_id": "f" * 32,
    "span_id": "e" * 16,
    "service": "forged-service",
    "logger": "forged.logger",
}


def test_caps_are_the_documented_numbers() -> None:
    """64 KiB in one process; 4096 bytes (Linux PIPE_BUF) when workers share a pipe."""
    assert LINE_MAX_BYTES == 65536
    assert PIPE_LINE_MAX_BYTES == 4096
    assert USER_FIELD_PREFIX == "field_"


def test_a_1mb_string_gives_a_capped_line_that_keeps_obskits_fields(rendered: Rendered) -> None:
    """A 1 MB value: one valid JSON line of at most LINE_MAX_BYTES with event, level,
    timestamp, ids and service kept, the small fields whole, and ``obskit_truncated`` giving
    the full size and naming the cut field."""
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("req") as span:
        obskit.get_logger("app").info("upload", blob="x" * 1_000_000, order=7)
    (line,) = rendered.new_lines()
    assert len(line) <= LINE_MAX_BYTES
    event = json.loads(line)
    ctx = span.get_span_context()
    assert (event["trace_id"], event["span_id"]) == (
        format(ctx.trace_id, "032x"),
        format(ctx.span_id, "016x"),
    )
    assert (event["event"], event["level"], event["service"]) == ("upload", "info", "test")
    assert "timestamp" in event
    assert event["order"] == 7
    assert event["blob"].startswith("xxx")
    assert event["blob"].endswith("…")
    assert event[TRUNCATED_FIELD]["bytes"] > 1_000_000
    assert event[TRUNCATED_FIELD]["fields"] == ["blob"]


def test_multi_worker_cap_applies_to_structlog_stdlib_and_tracebacks(rendered: Rendered) -> None:
    """With the multi-worker cap, 8 KB and 16 KB lines and a 10 KB+ traceback come out as
    valid JSON of at most 4096 bytes; the traceback keeps its end (the raising frame and the
    exception) and is marked as cut."""
    rendered.runtime.state.pipeline.line_max = PIPE_LINE_MAX_BYTES

    # Two functions calling each other: Python does not fold such frames ("repeated N times").
    def recurse(n: int) -> None:
        if n == 0:
            raise ValueError("deep failure")
        other(n - 1)

    def other(n: int) -> None:
        recurse(n)

    for size in (8192, 16384):
        obskit.get_logger("app").info("big", pad="p" * size)
        logging.getLogger("lib").info("big", extra={"pad": "p" * size})
    try:
        recurse(80)
    except ValueError:
        obskit.get_logger("app").exception("failed")
        logging.getLogger("lib").exception("failed")
    lines = rendered.new_lines()
    assert len(lines) == 6
    for line in lines:
        assert len(line) <= PIPE_LINE_MAX_BYTES
        event = json.loads(line)
        assert TRUNCATED_FIELD in event
        assert event["service"] == "test"
    for line in lines[4:]:
        event = json.loads(line)
        assert event[TRUNCATED_FIELD]["bytes"] > 8000
        assert event[TRUNCATED_FIELD]["fields"] == ["exception"]
        exc = event["exception"]
        assert (exc["type"], exc["message"]) == ("ValueError", "deep failure")
        assert exc["traceback"].startswith("Traceback (most recent call last):\n…")
        assert exc["traceback"].endswith("ValueError: deep failure\n")


def test_long_access_line_is_capped(rendered: Rendered) -> None:
    """The hand-rendered access line is capped too (a very long request path)."""
    pipeline = rendered.runtime.state.pipeline
    pipeline.line_max = PIPE_LINE_MAX_BYTES
    pipeline.access_request("GET", "<unmatched>", "/" + "a" * 9000, 404, 0.01, None, None, None)
    (line,) = rendered.new_lines()
    event = json.loads(line)
    assert len(line) <= PIPE_LINE_MAX_BYTES
    assert (event["event"], event["status"], event["logger"]) == ("request", 404, "obskit.access")
    assert event[TRUNCATED_FIELD]["fields"] == ["path"]


_text = st.text(max_size=3000)
_small = st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), _text, st.none())
_value = st.recursive(
    _small,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(_text, inner, max_size=5)),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.dictionaries(st.text(max_size=200), _value, max_size=30),
    event=_text,
    cap=st.sampled_from([512, 1024, PIPE_LINE_MAX_BYTES, 16384]),
)
def test_property_fit_always_fits_and_keeps_core_fields(
    fields: dict[str, Any], event: str, cap: int
) -> None:
    """Any event cut by ``fit``: valid JSON, at most ``cap`` bytes, ending in a newline, with
    timestamp, level and the ids kept exactly and the event's start kept."""
    out: dict[str, Any] = {
        "timestamp": "2026-01-01T00:00:00.000000Z",
        "level": "info",
        "logger": "app",
        "event": event,
        "service": "svc",
        "trace_id": "a" * 32,
        "span_id": "b" * 16,
    }
    out.update({USER_FIELD_PREFIX + k: v for k, v in fields.items()})
    size = len(json.dumps(out).encode())
    line = fit(out, size, cap)
    assert len(line) <= cap
    assert line.endswith(b"\n")
    result = json.loads(line)
    for key in ("timestamp", "level", "trace_id", "span_id"):
        assert result[key] == out[key]
    assert out["event"].startswith(result["event"].removesuffix("…"))


# ---------------------------------------------------------------------------------------------
# obskit's own fields
# ---------------------------------------------------------------------------------------------
def _assert_not_forged(event: dict[str, Any], logger: str, level: str) -> None:
    assert (event["logger"], event["level"], event["service"]) == (logger, level, "test")
    assert event["timestamp"] != FORGED["timestamp"]
    assert "trace_id" not in event  # no span active: none, and not the forged one
    for key, value in FORGED.items():
        assert event[USER_FIELD_PREFIX + key] == value


def test_structlog_kwargs_cannot_forge_obskits_fields(rendered: Rendered) -> None:
    """``log.info("x", **body)`` with level/timestamp/trace_id/span_id/service/logger keys:
    obskit's values stay, the caller's are kept as ``field_<name>``."""
    obskit.get_logger("app").info("spread", **FORGED)
    _assert_not_forged(rendered.one(), "app", "info")


def test_stdlib_extra_cannot_forge_obskits_fields_or_the_message(rendered: Rendered) -> None:
    """``extra={...}`` with obskit's field names (and ``event``): the record's values stay."""
    logging.getLogger("lib").warning("real message", extra={**FORGED, "event": "forged"})
    event = rendered.one()
    _assert_not_forged(event, "lib", "warning")
    assert (event["event"], event["field_event"]) == ("real message", "forged")


def test_bound_contextvars_cannot_forge_ids_inside_a_span(rendered: Rendered) -> None:
    """A bound ``trace_id`` inside a span: the span's id is on the line, the bound one kept
    under the prefix (structlog, stdlib and the access line alike)."""
    tracer = TracerProvider().get_tracer("t")
    structlog.contextvars.bind_contextvars(trace_id="f" * 32, level="x")
    try:
        with tracer.start_as_current_span("req") as span:
            obskit.get_logger("app").info("a")
            logging.getLogger("lib").info("b")
        rendered.runtime.state.pipeline.access(
            {"method": "GET", "route": "/", "path": "/", "status": 200}, "c" * 32, "d" * 16
        )
    finally:
        structlog.contextvars.clear_contextvars()
    real = format(span.get_span_context().trace_id, "032x")
    first, second, access = (json.loads(line) for line in rendered.new_lines())
    for event, trace_id in ((first, real), (second, real), (access, "c" * 32)):
        assert event["trace_id"] == trace_id
        assert event["field_trace_id"] == "f" * 32
        assert event["field_level"] == "x"
        assert event["level"] == "info"


@pytest.mark.parametrize("key", sorted(FORGED))
def test_each_own_field_is_protected_in_captured_events(
    key: str, rt_events: list[dict[str, Any]]
) -> None:
    """The events ``obskit.testing`` captures show the same rule (no rendering involved)."""
    obskit.get_logger("app").info("x", **{key: FORGED[key]})
    (event,) = rt_events
    assert event.get(key) != FORGED[key]  # ids: absent outside a span
    assert event[USER_FIELD_PREFIX + key] == FORGED[key]


@pytest.fixture
def rt_events() -> Any:
    """The events captured by an isolated runtime (not rendered)."""
    from obskit.testing import IsolatedRuntime

    with IsolatedRuntime() as runtime:
        yield runtime.events
