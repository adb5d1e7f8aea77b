"""obskit's lean server span behaves as the SDK span it replaces (sampling, API, export)."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from obskit._runtime.tracing.otlp import encode_request
from obskit._runtime.tracing.span import ServerSpan, ServerSpans, root_bound
from obskit.testing import IsolatedRuntime

from .conftest import TRACEPARENT_SAMPLED, TRACEPARENT_UNSAMPLED
from .test_asgi import call

SEEN: dict[str, Any] = {}


def _app() -> Starlette:
    """A route whose handler uses the current span the way user code does."""

    async def item(request: Request) -> PlainTextResponse:
        span = trace.get_current_span()
        SEEN["span"] = span
        span.set_attribute("app.user_tier", "gold")
        span.set_attribute("app.password", "hunter2")
        span.add_event("cache miss", {"key": "k1"})
        tracer = trace.get_tracer("user")
        provider_tracer = SEEN.get("tracer") or tracer
        with provider_tracer.start_as_current_span("db query") as child:
            SEEN["child"] = child
        if request.query_params.get("fail"):
            raise ValueError("boom")
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/items/{item_id}", item)])


def test_handler_sees_the_server_span_and_children_link_to_it(rt: IsolatedRuntime) -> None:
    """get_current_span() in a handler is the exported server span (an SDK Span); user
    attributes and events land on it, secrets are redacted, a child span is its child."""
    SEEN.clear()
    SEEN["tracer"] = rt.provider.get_tracer("user")
    call(_app(), ("GET", "/items/7"))
    spans = {s.name: s for s in rt.exporter.get_finished_spans()}
    server = spans["GET /items/{item_id}"]
    assert isinstance(SEEN["span"], ServerSpan)
    assert isinstance(SEEN["span"], SdkSpan)
    assert SEEN["span"].get_span_context() == server.context
    assert server.kind is SpanKind.SERVER
    attrs = dict(server.attributes or {})
    assert attrs["app.user_tier"] == "gold"
    assert attrs["app.password"] == "[REDACTED]"
    assert attrs["http.route"] == "/items/{item_id}"
    assert attrs["http.response.status_code"] == 200
    assert [e.name for e in server.events] == ["cache miss"]
    child = spans["db query"]
    assert child.parent is not None
    assert child.parent.span_id == server.context.span_id
    assert child.context.trace_id == server.context.trace_id
    assert server.parent is None
    assert server.context.trace_flags.sampled
    assert server.end_time is not None
    assert server.start_time is not None
    assert server.end_time >= server.start_time


def test_exception_is_recorded_and_status_is_error(rt: IsolatedRuntime) -> None:
    """An exception escaping the handler becomes an exception event and an ERROR status."""
    SEEN.clear()
    call(_app(), ("GET", "/items/7?fail=1"))
    server = next(s for s in rt.exporter.get_finished_spans() if s.kind is SpanKind.SERVER)
    assert server.status.status_code is StatusCode.ERROR
    (event,) = [e for e in server.events if e.name == "exception"]
    assert (event.attributes or {})["exception.type"] == "ValueError"
    assert dict(server.attributes or {})["error.type"] == "ValueError"


def test_ended_span_is_immutable(rt: IsolatedRuntime) -> None:
    """After the request, the exported span no longer changes (it is handed over, not copied)."""
    SEEN.clear()
    call(_app(), ("GET", "/items/1"))
    span = SEEN["span"]
    assert not span.is_recording()
    span.set_attribute("late", 1)
    span.add_event("late")
    (server,) = [s for s in rt.exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert "late" not in dict(server.attributes or {})
    assert all(e.name != "late" for e in server.events)


@pytest.mark.parametrize(
    ("traceparent", "sampler", "exported"),
    [
        (TRACEPARENT_SAMPLED, ParentBased(ALWAYS_OFF), True),  # the parent decides
        (TRACEPARENT_UNSAMPLED, ParentBased(ALWAYS_ON), False),
        (None, ParentBased(ALWAYS_OFF), False),
        (None, ParentBased(ALWAYS_ON), True),
        (TRACEPARENT_UNSAMPLED, ALWAYS_ON, True),  # not parent-based: the sampler decides
    ],
)
def test_sampling_decisions_match_the_sdk(
    make_rt: Any, traceparent: str | None, sampler: Any, exported: bool
) -> None:
    """Parent-based decisions and incoming trace ids are honoured exactly as by the SDK."""
    rt = make_rt(sampler=sampler)
    headers = {"traceparent": traceparent} if traceparent else None
    call(_app(), ("GET", "/items/3"), headers=headers)
    servers = [s for s in rt.exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert len(servers) == (1 if exported else 0)
    access = next(e for e in rt.events if e["logger"] == "obskit.access")
    if traceparent:
        assert access["trace_id"] == traceparent.split("-")[1]
    if servers:
        assert access["trace_id"] == format(servers[0].context.trace_id, "032x")
        if traceparent:
            assert servers[0].parent is not None
            assert servers[0].parent.is_remote


def test_ratio_sampler_fast_path_keeps_the_ratio() -> None:
    """The root decision made without the sampler keeps the configured ratio and the SDK's
    flags (sampled + random trace id), and marks dropped ids as not sampled."""
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.25)))
    spans = ServerSpans.for_tracer(provider.get_tracer("t"))
    assert spans is not None
    kept = 0
    for _ in range(4000):
        span = spans.start("GET", None, {"http.request.method": "GET"})
        sc = span.get_span_context()
        assert sc.trace_flags.random_trace_id
        assert span.is_recording() == sc.trace_flags.sampled
        if span.is_recording():
            kept += 1
            span.end()
    assert 800 < kept < 1200


def test_root_bound_only_for_trace_id_samplers() -> None:
    """Only samplers whose root decision depends on the trace id alone get the fast path."""
    assert root_bound(ParentBased(ALWAYS_ON)) == 1 << 64
    assert root_bound(ALWAYS_OFF) == 0
    assert root_bound(TraceIdRatioBased(0.5)) == TraceIdRatioBased(0.5).bound
    custom = ParentBased(ALWAYS_ON)
    custom._root = object()  # type: ignore[assignment]
    assert root_bound(custom) is None


def test_attribute_limits_still_apply() -> None:
    """SpanLimits apply to the lean span: the value length to every value, the count to the
    attributes user code sets (the oldest of them dropped first); the middleware's own
    attributes are never dropped by the count limit."""
    provider = TracerProvider(
        span_limits=SpanLimits(max_span_attributes=2, max_span_attribute_length=5)
    )
    spans = ServerSpans.for_tracer(provider.get_tracer("t"))
    assert spans is not None
    span = spans.start("GET", None, {"url.path": "/a-long-path", "http.request.method": "GET"})
    assert isinstance(span, ServerSpan)
    assert dict(span.attributes)["url.path"] == "/a-lo"
    span.set_attribute("a", 1)
    span.set_attribute("b", 2)
    span.set_attribute("c", "xxxxxxxx")
    span.finish_attributes({"http.route": "/items/{id}", "http.response.status_code": 200})
    assert dict(span.attributes) == {
        "url.path": "/a-lo",
        "http.request.method": "GET",
        "b": 2,
        "c": "xxxxx",
        "http.route": "/item",
        "http.response.status_code": 200,
    }
    assert span.dropped_attributes == 1
    span.end()


def test_same_otlp_message_as_the_official_encoder(rt: IsolatedRuntime) -> None:
    """Server spans (with user attributes, events, an exception, a remote parent) encode to
    exactly the official encoder's message."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    raw = InMemorySpanExporter()  # the spans as ended, before redaction
    rt.provider.add_span_processor(SimpleSpanProcessor(raw))
    SEEN.clear()
    app = _app()
    call(app, ("GET", "/items/1?x=1"), headers={"traceparent": TRACEPARENT_SAMPLED})
    call(app, ("GET", "/items/2?fail=1"))
    call(app, ("GET", "/nope"))
    spans = list(raw.get_finished_spans())
    assert sum(isinstance(s, ServerSpan) for s in spans) == 3
    ours = ExportTraceServiceRequest.FromString(encode_request(spans))
    assert ours == encode_spans(spans)


def test_interleaved_scopes_and_resources_group_like_the_official_encoder() -> None:
    """Spans alternating between scopes and resources are grouped exactly as the official
    encoder groups them."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    providers = [TracerProvider(resource=Resource.create({"n": i})) for i in range(2)]
    for provider in providers:
        provider.add_span_processor(SimpleSpanProcessor(memory))
    tracers = [p.get_tracer(name) for p in providers for name in ("a", "b")]
    for i in range(12):
        tracers[(i * 3) % 4].start_span(f"s{i}").end()
    spans = list(memory.get_finished_spans())
    ours = ExportTraceServiceRequest.FromString(encode_request(spans))
    assert ours == encode_spans(spans)


@pytest.mark.parametrize("sampler", [ALWAYS_OFF, ParentBased(ALWAYS_OFF)])
def test_dropped_root_is_the_sdks_non_recording_span(make_rt: Any, sampler: Any) -> None:
    """With a sampler that drops every root and no incoming parent, the handler's current span
    is what the SDK's own ``start_span`` makes (non-recording, a valid context with the same
    flags), its ids are the access line's, and an outgoing call carries them, not sampled."""
    from opentelemetry import propagate

    rt = make_rt(sampler=sampler)
    seen: dict[str, Any] = {}

    async def item(request: Request) -> PlainTextResponse:
        seen["span"] = trace.get_current_span()
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        seen["carrier"] = carrier
        return PlainTextResponse("ok")

    call(Starlette(routes=[Route("/items/{item_id}", item)]), ("GET", "/items/3"))
    span = seen["span"]
    sdk = rt.provider.get_tracer("t").start_span("GET", kind=SpanKind.SERVER)
    assert type(span) is type(sdk)
    assert not span.is_recording()
    sc = span.get_span_context()
    assert sc.is_valid
    assert not sc.is_remote
    assert sc.trace_flags == sdk.get_span_context().trace_flags
    assert not sc.trace_flags.sampled
    access = next(e for e in rt.events if e["logger"] == "obskit.access")
    assert (access["trace_id"], access["span_id"]) == (
        format(sc.trace_id, "032x"),
        format(sc.span_id, "016x"),
    )
    assert seen["carrier"]["traceparent"] == (
        f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{int(sc.trace_flags):02x}"
    )
    assert not rt.exporter.get_finished_spans()


def test_dropped_root_fast_path_steps_aside_under_an_active_span(make_rt: Any) -> None:
    """No incoming parent but a span already active (an app called inside a traced task): the
    request's span is that span's child (same trace), decided by ParentBased as the SDK does."""
    rt = make_rt(sampler=ParentBased(ALWAYS_OFF))
    seen: dict[str, Any] = {}

    async def item(request: Request) -> PlainTextResponse:
        seen["span"] = trace.get_current_span()
        return PlainTextResponse("ok")

    outer = trace.NonRecordingSpan(
        trace.SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, False,
                          trace.TraceFlags(trace.TraceFlags.SAMPLED))
    )  # fmt: skip
    with trace.use_span(outer):
        call(Starlette(routes=[Route("/items/{item_id}", item)]), ("GET", "/items/3"))
    sc = seen["span"].get_span_context()
    assert sc.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert sc.trace_flags.sampled  # the sampled parent decided, not the dropping root sampler
    (server,) = [s for s in rt.exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.parent is not None
    assert server.parent.span_id == 0xB7AD6B7169203331
