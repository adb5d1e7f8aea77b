"""Self-tests of the private internals obskit's fast paths use, run once by ``init()``.

obskit's hot paths read and write private parts of its dependencies (listed, with what each
buys, in ``docs/runtime.md``, "Private internals").  A release of a dependency may move any of
them; obskit must then be slower, never wrong.  So ``init()`` runs each fast path once on a
throw-away object and compares the result with the public API's, and a fast path that raises or
differs is switched off for the process (the public API serves instead) with one JSON warning
naming the internal and the error.  A request never fails because an internal moved.

The checks (each a few hundred µs at most; see ``docs/runtime.md`` for the measured total):

* ``server span`` (``tracing/span.py``): one root span (trace-id sampling path) and one child
  of a remote parent (sampler path) built and ended by ``ServerSpans`` — an attribute, an event,
  a link and a status set through the SDK's public methods — each compared (through the official
  OTLP encoder, which reads the SDK's public properties: everything an exporter sees; and the
  deprecated ``instrumentation_info``) with the same span made by the SDK's
  ``Tracer.start_span``.  An SDK span field renamed upstream fails here: the SDK's properties
  and methods read the new name, which obskit's span does not set;
* ``OTLP encoder`` (``tracing/otlp.py``): those spans encoded by obskit's writer and by the
  official encoder, parsed and compared; and the exporter's send internals present (with the
  ``success``/``error`` of its client's declared ``export()`` result, ``_max_request_size`` an
  int);
* ``batch processor`` (``tracing/setup.py``): the SDK batch processor's queue, its two limits
  (positive ints: a missing one must never read as 0, which would drop every span) and ``emit``
  found;
* ``histogram`` (``metrics/instruments.py``): one value with an exemplar and one without,
  observed through ``_observe`` and through the public ``observe()``, samples and exemplars
  compared;
* ``structlog contextvars`` (``logs/bindings.py``): a key bound with structlog's public API,
  read through the private map, cleared, and the access line rendered with it.
* ``OTel context`` (``context.py``): a span made current through the ContextVar behind the
  API's runtime context is the API's current span, with obskit's ids, and leaving restores the
  context before it.
"""

from __future__ import annotations

import contextvars
import logging
import warnings
from collections.abc import Callable
from typing import Any, Final

from opentelemetry import trace

from obskit._runtime import state as _state
from obskit._runtime.internals import SELFTEST_WARNING

__all__ = ["CHECKS", "SELFTEST_WARNING", "run", "use_public_api"]

_log = logging.getLogger("obskit")


class Mismatch(Exception):
    """The fast path's result differs from the public API's."""


# -- server span ---------------------------------------------------------------------------------
_NAME: Final = "GET /obskit/selftest/{id}"
_START: Final = {
    "http.request.method": "GET",
    "url.path": "/obskit/selftest/1",
    "url.scheme": "http",
}
_END: Final = {"http.response.status_code": 500, "http.route": "/obskit/selftest/{id}"}


#: A span a handler links to (``add_link``: the SDK appends through ``Span._add_link``, which
#: obskit's span overrides — a rename upstream would leave the SDK appending to its empty tuple).
_LINKED: Final = trace.SpanContext(
    0x4BF92F3577B34DA6A3CE929D0E0E4736,
    0x00F067AA0BA902B7,
    is_remote=True,
    trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
)


def _drive(span: Any, fast: bool) -> None:
    """What the middleware and a handler do to a server span, through public calls (and
    ``finish_attributes`` for obskit's span)."""
    span.set_attribute("obskit.selftest", 1)
    span.add_event("obskit.selftest", {"n": 1})
    span.add_link(_LINKED, {"obskit.selftest": 1})
    span.set_status(trace.Status(trace.StatusCode.ERROR))
    if fast:
        span.finish_attributes(dict(_END), "GET /obskit/selftest/{id}")
    else:
        span.update_name(_NAME)
        span.set_attributes(dict(_END))
    span.end()


class _Spans:
    """A throw-away provider with the real resource and default span limits (nothing is
    exported), and
    the spans it ended: public ones (``Tracer.start_span``) and obskit's (``ServerSpans``), a
    root span and a child of a remote parent each."""

    def __init__(self, st: _state.State) -> None:
        from opentelemetry.sdk.trace import SpanLimits, TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON

        real: Any = st.tracer
        self.memory = InMemorySpanExporter()
        # The SDK's default limits, not the environment's: a count limit is where obskit's span
        # differs from the SDK's on purpose (its own attributes are kept), and the SDK's
        # limit warnings are not for a throw-away span.
        unset = SpanLimits.UNSET
        limits = SpanLimits(
            max_attributes=128,
            max_events=128,
            max_links=128,
            max_span_attributes=128,
            max_event_attributes=128,
            max_link_attributes=128,
            max_attribute_length=unset,
            max_span_attribute_length=unset,
        )
        provider = TracerProvider(
            resource=real.resource, sampler=ALWAYS_ON, shutdown_on_exit=False, span_limits=limits
        )
        provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer: Any = provider.get_tracer("obskit")
        remote = trace.SpanContext(
            0x0AF7651916CD43DD8448EB211C80319C,
            0xB7AD6B7169203331,
            is_remote=True,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        )
        self.parent = trace.set_span_in_context(trace.NonRecordingSpan(remote))
        self.public: list[Any] = []
        self.fast: list[Any] = []

    def make_public(self) -> None:
        for context in (None, self.parent):
            span = self.tracer.start_span("GET", context, trace.SpanKind.SERVER, dict(_START))
            _drive(span, fast=False)
        self.public = list(self.memory.get_finished_spans())
        self.memory.clear()

    def make_fast(self) -> None:
        from obskit._runtime.tracing.span import ServerSpans

        # The root span through the trace-id decision, the child through the sampler.
        for spans, context in (
            (ServerSpans(self.tracer, 1 << 64), None),
            (ServerSpans(self.tracer, None), self.parent),
        ):
            span = spans.start("GET", context, dict(_START))
            _drive(span, fast=True)
        self.fast = list(self.memory.get_finished_spans())
        self.memory.clear()


def _as_message(spans: list[Any], *, ids: bool) -> Any:
    """The official encoder's request for ``spans``, parsed, with the values that differ
    between two spans made alike (ids of a root span, times) cleared."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from obskit._runtime.tracing.otlp import official_request

    message = ExportTraceServiceRequest.FromString(official_request(spans))
    if not ids:
        for rs in message.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    if not span.parent_span_id:
                        span.trace_id = b""
                    span.span_id = b""
                    span.start_time_unix_nano = span.end_time_unix_nano = 0
                    for event in span.events:
                        event.time_unix_nano = 0
    return message


def check_server_span(st: _state.State, made: _Spans) -> None:
    """obskit's server spans equal the SDK's, as the exporter sees them."""
    contextvars.Context().run(made.make_fast)  # no active span: a root span is a root span
    public, fast = made.public, made.fast
    if len(fast) != len(public):
        raise Mismatch(f"{len(fast)} spans ended, expected {len(public)}")
    for mine, theirs in zip(fast, public, strict=True):
        if mine.get_span_context().trace_flags != theirs.get_span_context().trace_flags:
            raise Mismatch("trace flags differ")
        if not mine.get_span_context().is_valid:
            raise Mismatch("invalid span context")
        if dict(mine.attributes) != dict(theirs.attributes):
            raise Mismatch(f"attributes differ: {dict(mine.attributes)} != {theirs.attributes}")
        with warnings.catch_warnings():  # a deprecated property, not read by the encoder
            warnings.simplefilter("ignore", DeprecationWarning)
            if mine.instrumentation_info != theirs.instrumentation_info:
                raise Mismatch("instrumentation_info differs")
        if _as_message([mine], ids=False) != _as_message([theirs], ids=False):
            raise Mismatch("the exported span differs from the SDK's")


def check_encoder(st: _state.State, made: _Spans) -> None:
    """obskit's OTLP writer writes the official encoder's message (parsed and compared)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from obskit._runtime.tracing.otlp import encode_request

    # obskit's spans only when they passed their own check (else they are not exported).
    spans = made.public + (made.fast if st.server_spans is not None else [])
    ours = ExportTraceServiceRequest.FromString(encode_request(spans))
    if ours != _as_message(spans, ids=True):
        raise Mismatch("obskit's OTLP bytes differ from the official encoder's")


def check_send(st: _state.State, made: object) -> None:
    """The exporter's send internals are there, and ``_client.export()`` declares a result
    with the ``success``/``error`` it reads (else upstream's ``export`` sends and reads its
    own result)."""
    exporter = _exporter(st)
    missing = getattr(exporter, "missing_internal", None)
    if missing is not None:
        raise Mismatch(f"OTLPSpanExporter.{missing} is missing")


def check_transport(st: _state.State, made: object) -> None:
    """The exporter's client holds the transport obskit swaps for its keep-alive one (else
    upstream's ``requests`` transport sends: same requests, more CPU per POST)."""
    missing = getattr(_exporter(st), "transport_missing", None)
    if missing is not None:
        raise Mismatch(f"{missing} is not there")


def check_batch_processor(st: _state.State, made: object) -> None:
    """The batch processor found the SDK's queue it counts drops on, its two limits (positive
    ints) and ``emit`` (else it hands every span to the SDK's own ``on_end``: exported all the
    same, but a full queue's drops uncounted and no hand-off to the export thread)."""
    missing = getattr(st.processor, "missing_internal", None)
    if missing is not None:
        raise Mismatch(missing)


# -- histogram ------------------------------------------------------------------------------------
def check_histogram(st: _state.State, made: object) -> None:
    """``_observe`` moves the same samples and exemplars as the public ``observe()``."""
    from prometheus_client import CollectorRegistry, Histogram

    from obskit import conventions as c
    from obskit._runtime.metrics.instruments import observe_fast, observe_public

    results = []
    for observe in (observe_fast, observe_public):
        registry = CollectorRegistry()
        histogram = Histogram(
            c.HTTP_DURATION.removesuffix("_seconds"),
            "self-test",
            [c.LABEL_METHOD],
            buckets=c.buckets(),
            registry=registry,
        )
        child = histogram.labels("GET")
        observe(child, 0.0123, "0af7651916cd43dd8448eb211c80319c")
        observe(child, 7.5, None)
        observe(child, 1e9, None)  # the +Inf bucket
        results.append(
            [
                (s.name, s.labels, s.value, s.exemplar and (s.exemplar.labels, s.exemplar.value))
                for family in registry.collect()
                for s in family.samples
                if not s.name.endswith("_created")
            ]
        )
    if results[0] != results[1]:
        raise Mismatch(f"histogram samples differ: {results[0]} != {results[1]}")


# -- structlog contextvars --------------------------------------------------------------------
def check_log_context(st: _state.State, made: object) -> None:
    """structlog's private map of bound contextvars reads and clears what its public
    functions bind, and an access line rendered with it carries the bound key."""
    import structlog

    from obskit._runtime.logs import bindings
    from obskit._runtime.logs.pipeline import LogPipeline
    from obskit._runtime.logs.render import dumps

    bound_vars: Any = bindings._BOUND_VARS
    if bound_vars is None:
        raise Mismatch("structlog.contextvars._CONTEXT_VARS is missing")
    key = "obskit_selftest"
    was_known = any(name.endswith(key) for name in bound_vars)

    def within() -> None:
        structlog.contextvars.bind_contextvars(obskit_selftest="1")
        fast = bindings._get_contextvars()
        public = structlog.contextvars.get_contextvars()
        if fast != public:
            raise Mismatch(f"bound contextvars read {fast}, structlog says {public}")
        pipeline = LogPipeline(st.config, st.redactor, st.pipeline.line_max)
        pipeline.capture = []
        pipeline.access_request("GET", "/r", "/r", 200, 0.001, None, None, None)
        line = dumps(pipeline.capture[0], pipeline.line_max)
        if b'"obskit_selftest":"1"' not in line:
            raise Mismatch("the access line lacks the bound key")
        bindings.clear_contextvars()
        left = structlog.contextvars.get_contextvars()
        if left:
            raise Mismatch(f"clear_contextvars left {left} bound")

    try:
        contextvars.Context().run(within)
    finally:
        if not was_known:  # an empty map keeps the access line's nothing-bound fast path
            for name in [n for n in bound_vars if n.endswith(key)]:
                bound_vars.pop(name, None)


# -- OTel context -------------------------------------------------------------------------------
def check_context(st: _state.State, made: object) -> None:
    """A span made current by ``enter_span`` (the ContextVar fast path) is what the public API
    reads — the current span, the same Context content as ``set_span_in_context`` — and
    ``leave_span`` restores the Context before it."""
    from opentelemetry import context as otel_context

    from obskit._runtime import context as _context
    from obskit._runtime.logs.bindings import current_ids

    if _context.UNAVAILABLE is not None:
        raise Mismatch(_context.UNAVAILABLE)
    span = trace.NonRecordingSpan(
        trace.SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, False)
    )
    ids = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")

    def within() -> None:
        before = otel_context.get_current()
        token = _context.enter_span(span, None, *ids)
        try:
            if trace.get_current_span() is not span:
                raise Mismatch("the span made current is not the API's current span")
            expected = dict(trace.set_span_in_context(span, before))
            got = {k: v for k, v in otel_context.get_current().items() if k != _context.IDS_KEY}
            if got != expected:
                raise Mismatch(f"the current Context holds {got}, the API's would be {expected}")
            if current_ids() != ids:
                raise Mismatch(f"log lines read ids {current_ids()}, expected {ids}")
        finally:
            _context.leave_span(token)
        if otel_context.get_current() != before:
            raise Mismatch("leave_span did not restore the Context before it")

    contextvars.Context().run(within)


def _public_context(st: _state.State) -> None:
    from obskit._runtime import context as _context

    _context.use_public_api()


def _has_context_var(st: _state.State) -> bool:
    from obskit._runtime import context as _context

    return _context.CONTEXT_VAR is not None or _context.UNAVAILABLE is not None


# -- the table --------------------------------------------------------------------------------
def _exporter(st: _state.State) -> Any:
    processor = st.processor
    redacting = getattr(processor, "_redacting", None)
    return getattr(redacting, "inner", None)


def _no_server_spans(st: _state.State) -> None:
    st.server_spans = None


def _official_encoder(st: _state.State) -> None:
    exporter = _exporter(st)
    if exporter is not None and hasattr(exporter, "fast_encode"):
        exporter.fast_encode = False


def _public_observe(st: _state.State) -> None:
    st.metrics.fast_observe = False


def _public_contextvars(st: _state.State) -> None:
    from obskit._runtime.logs import bindings

    bindings._BOUND_VARS = None


def _single_process(st: _state.State) -> bool:
    return st.exposition is None


def _has_server_spans(st: _state.State) -> bool:
    return st.server_spans is not None


def _has_fast_encoder(st: _state.State) -> bool:
    return getattr(_exporter(st), "fast_encode", False) is True


def _has_send_path(st: _state.State) -> bool:
    return hasattr(_exporter(st), "missing_internal")


def _has_transport_choice(st: _state.State) -> bool:
    return hasattr(_exporter(st), "transport_missing")


def _has_processor(st: _state.State) -> bool:
    return hasattr(st.processor, "missing_internal")


def _always(st: _state.State) -> bool:
    return True


Check = tuple[str, str, Callable[[_state.State], bool], Callable[..., None], Callable[..., None]]
#: ``(name, internals, applies, check, fallback)`` — ``check(state, spans)`` raises on a
#: mismatch; ``fallback(state)`` switches that fast path to the public API.
CHECKS: Final[tuple[Check, ...]] = (
    (
        "server span",
        "opentelemetry-sdk: Tracer._tracer_config/_tracer_metrics/_span_limits/"
        "_instrumentation_scope, Span._name/_context/_parent/_kind/_attributes/_events/_links/"
        "_status/_resource/_instrumentation_scope/_instrumentation_info/_start_time/_end_time/"
        "_limits/_lock/... and the overridden _add_event/_add_link/_readable_span, "
        "BoundedAttributes._dict/_set_items/_immutable/_lock, SpanProcessor._on_ending",
        _has_server_spans,
        check_server_span,
        _no_server_spans,
    ),
    (
        "OTLP encoder",
        "opentelemetry-sdk span fields read directly: _context/_parent/_name/_kind/_attributes/"
        "_events/_links/_status/_resource/_instrumentation_scope",
        _has_fast_encoder,
        check_encoder,
        _official_encoder,
    ),
    (
        "OTLP send",
        "opentelemetry-exporter-otlp-proto-http: OTLPSpanExporter._client/_metrics/_shutdown/"
        "_max_request_size, the result of _client.export(): .success/.error",
        _has_send_path,
        check_send,
        lambda st: None,  # the exporter already sends through upstream's export()
    ),
    (
        "OTLP transport",
        "opentelemetry-exporter-otlp-proto-http: OTLPSpanExporter._endpoint, "
        "_OTLPHTTPClient._transport",
        _has_transport_choice,
        check_transport,
        lambda st: None,  # the exporter already kept upstream's requests transport
    ),
    (
        "batch processor",
        "opentelemetry-sdk: BatchSpanProcessor._batch_processor and its _queue/_max_queue_size/"
        "_max_export_batch_size/emit",
        _has_processor,
        check_batch_processor,
        lambda st: None,  # the processor already hands spans to the SDK's own on_end
    ),
    (
        "histogram",
        "prometheus-client: Histogram child _sum/_buckets/_upper_bounds",
        _single_process,
        check_histogram,
        _public_observe,
    ),
    (
        "structlog contextvars",
        "structlog: structlog.contextvars._CONTEXT_VARS",
        _always,
        check_log_context,
        _public_contextvars,
    ),
    (
        "OTel context",
        "opentelemetry-api: opentelemetry.context._RUNTIME_CONTEXT._current_context (the span "
        "key is derived through set_span_in_context/get_current_span)",
        _has_context_var,
        check_context,
        _public_context,
    ),
)


def run(st: _state.State) -> list[str]:
    """Run every check that applies to ``st``; switch each failing fast path to the public API
    with one warning.  Returns the names of the checks that failed.  Never raises."""
    failed: list[str] = []
    if st.exposition is not None:
        # Multiprocess mode: a throw-away histogram's values would be written to the workers'
        # shared files (a foreign series in every scrape, and the fast and public histograms,
        # sharing their keys there, would differ), so the check cannot run: the public
        # ``observe()`` serves, silently (prometheus-client keeps no exemplar in this mode
        # anyway; obskit's own exemplar store is unaffected).
        _public_observe(st)
    made: _Spans | None = None
    if st.tracer is not None and hasattr(st.tracer, "resource"):
        try:
            made = _Spans(st)
            contextvars.Context().run(made.make_public)
        except Exception:  # the SDK's own public path: not an internal of obskit's
            made = None
    for check in CHECKS:
        name, _internals, applies, test, _fallback = check
        try:
            if not applies(st):
                continue
            if name in _NEEDS_SPANS and made is None:
                continue  # no SDK tracer here: nothing to compare
            test(st, made)
        except Exception as exc:
            _fail(st, check, exc, failed)
    return failed


#: Checks that compare spans (skipped without an SDK tracer).
_NEEDS_SPANS: Final = frozenset({"server span", "OTLP encoder"})


def _fail(st: _state.State, check: Check, exc: BaseException, failed: list[str]) -> None:
    name, internals, _applies, _test, fallback = check
    failed.append(name)
    try:
        fallback(st)
    finally:
        _log.warning(
            SELFTEST_WARNING,
            extra={
                "fast_path": name,
                "internal": internals,
                "error": f"{type(exc).__qualname__}: {exc}",
            },
        )


def use_public_api(st: _state.State, names: tuple[str, ...] | None = None) -> None:
    """Switch the named fast paths (all when None) to the public API, silently: for benchmarks
    measuring what each internal buys."""
    for name, _internals, _applies, _test, fallback in CHECKS:
        if names is None or name in names:
            fallback(st)
