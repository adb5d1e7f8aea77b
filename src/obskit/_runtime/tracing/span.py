"""A lean server span: the SDK's ``Span`` without the per-request set-up the SDK does.

The SDK's ``Tracer.start_span`` + ``Span.__init__`` + ``start()``/``end()`` cost about 20 µs per
recorded span: a ``BoundedAttributes`` that re-validates every attribute value under a lock, two
``BoundedList`` objects that a server span rarely uses, a ``ReadableSpan`` copy made at ``end()``.
:class:`ServerSpan` *is* an SDK ``Span`` (``isinstance`` holds, and every public method —
``set_attribute``, ``add_event``, ``record_exception``, ``set_status``, ``update_name`` — is the
SDK's own, with the same limits and locking); only its construction and ``end()`` are lean:

* the middleware's own attributes (known ``str``/``int`` values) go straight into the attribute
  map, which is still a ``BoundedAttributes`` so user calls get the SDK's validation and limits;
  when an attribute-length limit is configured, every value takes the SDK's cleaning path;
* the events and links lists are made when the first event or link is added;
* ``end()`` hands the span itself to the span processors (it is immutable once ended) instead
  of a copy; the export thread does all conversion (redaction, OTLP encoding).

:func:`start_server_span` makes the same sampling decision as ``Tracer.start_span`` (it calls the
provider's sampler), except for root spans under the trace-id-only samplers, decided directly from
the trace id the same way the SDK's ``TraceIdRatioBased`` does.
"""

from __future__ import annotations

import logging
import random
import threading
from time import time_ns
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, Tracer
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags

from obskit._runtime import context as _context
from obskit._runtime.context import SPAN_KEY

__all__ = ["ServerSpan", "ServerSpans", "root_bound"]

_SERVER: Final = SpanKind.SERVER
_INVALID: Final = trace.INVALID_SPAN_CONTEXT
_get_current_span = trace.get_current_span
_getrandbits = random.getrandbits
_NonRecordingSpan = trace.NonRecordingSpan
_Lock = threading.Lock
_new_attributes = BoundedAttributes.__new__
_SAMPLED_RANDOM: Final = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_TRACE_ID_LIMIT: Final = (1 << 64) - 1
_RECORD_AND_SAMPLE: Final = Decision.RECORD_AND_SAMPLE
#: The SDK span module's logger (same warnings as the SDK's own spans).
trace_logger = logging.getLogger("opentelemetry.sdk.trace")


#: The server span's own attributes (set by the middleware): a count limit never drops them.
OWN_ATTRIBUTES: Final = frozenset(
    {
        "http.request.method", "http.request.method_original", "url.path", "url.scheme",
        "url.query", "client.address", "user_agent.original", "network.protocol.version",
        "http.route", "http.response.status_code", "error.type",
    }
)  # fmt: skip
_attributes_logger = logging.getLogger("opentelemetry.attributes")


class ServerAttributes(BoundedAttributes):
    """The server span's attribute map.  ``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`` bounds the
    attributes user code sets (the oldest of them is dropped, as the SDK does); the
    middleware's own (:data:`OWN_ATTRIBUTES`) are always kept, so a low limit never costs the
    span its method, path or route.  ``maxlen`` stays None (the SDK's own eviction off); the
    limit is ``user_limit``.
    """

    user_limit: int | None = None
    users = 0

    def _setitem_locked(self, key: str, value: Any) -> None:
        plain = self._dict
        if key in plain:
            del plain[key]  # re-set: moves to the end, as in the SDK
        elif self.user_limit is not None and key not in OWN_ATTRIBUTES:
            if self.users >= self.user_limit:
                self.dropped += 1
                # The SDK's message: obskit's filter turns it into one warning per process.
                _attributes_logger.warning(_FULL)
                victim = next((k for k in plain if k not in OWN_ATTRIBUTES), None)
                if victim is None:
                    return  # a limit of 0: no user attribute at all
                del plain[victim]
            else:
                self.users += 1
        plain[key] = value


_FULL: Final = (
    "Attributes dict is full. Dropping the oldest key-value pair from attributes to make space "
    "for the new key-value pair."
)


class ServerSpan(Span):
    """An SDK span built cheaply for obskit's server spans (see the module docstring)."""

    # Defaults the lean constructor does not set per instance.
    _end_time: int | None = None
    _events: Any = ()
    _links: Any = ()
    _kind = _SERVER
    _trace_config = None
    _record_exception = True
    _set_status_on_exception = True
    _record_end_metrics: Any = None
    #: The span's OTLP ``Span`` message, written when it was queued for export (in the thread
    #: that ended it: see ``RedactingExporter.prepare``), or None (written with its batch).
    otlp: bytes | None = None

    def __init__(self) -> None:  # pragma: no cover - never called (see ServerSpans.start)
        raise TypeError("ServerSpan is made by ServerSpans.start")

    # -- the SDK appends to its events/links lists: make them on first use ----------------------

    def _add_event(self, event: Any) -> None:
        with self._lock:
            if self._end_time is None:
                if not self._events:
                    self._events = BoundedList(self._limits.max_events)
                self._events.append(event)
                return
        trace_logger.warning("Tried calling _add_event on an ended span.")

    def _add_link(self, link: Link) -> None:
        with self._lock:
            if self._end_time is None:
                if not self._links:
                    self._links = BoundedList(self._limits.max_links)
                self._links.append(link)
                return
        trace_logger.warning("Tried calling _add_link on an ended span.")

    def end(self, end_time: int | None = None) -> None:
        """End the span and pass it (not a copy: it is immutable from now on) to the processors."""
        with self._lock:
            if self._end_time is not None:
                trace_logger.warning("Calling end() on an ended span.")
                return
            self._end_time = end_time if end_time is not None else time_ns()
            attrs: Any = self._attributes
            attrs._immutable = True
        # Fewer GC-tracked objects per queued span (see _ENDED_LOCK): a shared lock, and the
        # plain attribute dict in place of its (now immutable) BoundedAttributes wrapper when it
        # dropped nothing (every reader accepts a mapping; ``dropped_attributes`` is then 0).
        self._lock = _ENDED_LOCK
        if not attrs.dropped:
            self._attributes = attrs._dict
        record = self._record_end_metrics
        if record is not None:
            record()
        processor = self._span_processor
        processor._on_ending(self)
        processor.on_end(self)

    def _readable_span(self) -> Span:
        return self  # ended spans are immutable: no copy needed

    def finish_attributes(self, attributes: dict[str, Any], name: str | None = None) -> None:
        """Add the middleware's own attributes (``str``/``int`` values) at once, and rename the
        span (``update_name``) if ``name`` is given."""
        attrs: Any = self._attributes
        if attrs.max_value_len is not None or attrs.maxlen is not None:
            if name is not None:
                self.update_name(name)
            self.set_attributes(attributes)  # limits in force: the SDK's path
            return
        with self._lock:
            if self._end_time is None:
                if name is not None:
                    self._name = name
                plain = attrs._dict
                if plain.keys().isdisjoint(attributes):
                    plain.update(attributes)  # the usual case, in C
                    return
                for key, value in attributes.items():
                    if key in plain:
                        del plain[key]  # the SDK moves a re-set key to the end
                    plain[key] = value


class ServerSpans:
    """Starts :class:`ServerSpan` objects for one SDK tracer (falls back to the tracer itself)."""

    __slots__ = ("_bound", "_ids", "_random_ids", "_tracer", "drops_roots")

    def __init__(self, tracer: Tracer, bound: int | None) -> None:
        self._tracer = tracer
        #: Root spans are kept when ``trace_id & (2**64-1) < bound`` (TraceIdRatioBased); None:
        #: ask the sampler.
        self._bound = bound
        self._ids = tracer.id_generator
        #: The sampler drops every root span (``[parentbased_]always_off``): see
        #: :meth:`start_dropped_root`.
        self.drops_roots = bound == 0
        #: The SDK's default generator: its ids are ``random.getrandbits`` (non-zero), drawn here
        #: without its two Python calls.
        self._random_ids = type(self._ids) is RandomIdGenerator

    @classmethod
    def for_tracer(cls, tracer: Any) -> ServerSpans | None:
        """Server spans for ``tracer`` if it is a plain SDK tracer, else None (use the tracer)."""
        if type(tracer) is not Tracer:
            return None
        bound = None
        if getattr(tracer.id_generator, "is_trace_id_random", lambda: False)():
            bound = root_bound(tracer.sampler)
        return cls(tracer, bound)

    def start(self, name: str, parent: Context | None, attributes: dict[str, Any]) -> trace.Span:
        """A started SERVER span, as ``tracer.start_span(name, parent, SERVER, attributes)``."""
        return self.start_ids(name, parent, attributes)[0]

    def start_dropped_root(self) -> tuple[trace.Span, int, int] | None:
        """The request's span when :attr:`drops_roots` and no parent came in: what
        :meth:`start_ids` makes for it (a non-recording span with fresh random ids, not
        sampled), without its sampling work.  None when it is not a root after all (a span is
        active in the current context) or the tracer is disabled: :meth:`start_ids` then."""
        var = _context.CONTEXT_VAR
        if var is None or SPAN_KEY in var.get() or not self._tracer._tracer_config.is_enabled:
            return None
        if self._random_ids:
            # RandomIdGenerator's own draws; zero (invalid) is redrawn by the generator itself.
            trace_id = _getrandbits(128) or self._ids.generate_trace_id()
            span_id = _getrandbits(64) or self._ids.generate_span_id()
        else:
            trace_id = self._ids.generate_trace_id()
            span_id = self._ids.generate_span_id()
        span = _NonRecordingSpan(SpanContext(trace_id, span_id, False, _RANDOM_FLAGS))
        return span, trace_id, span_id

    def start_ids(
        self, name: str, parent: Context | None, attributes: dict[str, Any]
    ) -> tuple[trace.Span, int, int, bool]:
        """:meth:`start`, plus the span's trace id, span id and sampled flag as this method
        made them (the caller then reads no ``SpanContext`` property: five Python calls fewer
        per request, sampled or not)."""
        tracer = self._tracer
        if not tracer._tracer_config.is_enabled:
            sdk_span = tracer.start_span(name, parent, _SERVER, attributes)
            sc = sdk_span.get_span_context()
            return sdk_span, sc.trace_id, sc.span_id, sc.trace_flags.sampled
        parent_ctx: SpanContext | None
        var = _context.CONTEXT_VAR
        if parent is None and var is not None and SPAN_KEY not in var.get():
            parent_ctx = None  # no active span: a root span (a server's usual case)
        else:
            parent_ctx = _get_current_span(parent).get_span_context()
        ids = self._ids
        bound = self._bound
        trace_state = None
        if parent_ctx is None or not parent_ctx.is_valid:
            parent_ctx = None
            trace_id = ids.generate_trace_id()
            if bound is not None:
                # The SDK's TraceIdRatioBased decision (root spans: no trace state, the
                # sampler's attributes are the ones passed in).
                if trace_id & _TRACE_ID_LIMIT >= bound:
                    span_id = ids.generate_span_id()
                    return (
                        _NonRecordingSpan(SpanContext(trace_id, span_id, False, _RANDOM_FLAGS)),
                        trace_id, span_id, False,
                    )  # fmt: skip
                decision = _RECORD_AND_SAMPLE
                flags = _SAMPLED_RANDOM
                initial: Any = attributes
                fresh = True
            else:
                result = tracer.sampler.should_sample(
                    parent, trace_id, name, _SERVER, attributes, ()
                )
                decision = result.decision
                trace_state = result.trace_state
                initial = result.attributes
                fresh = False
                flags = _flags(decision, tracer.id_generator.is_trace_id_random())
        else:
            trace_id = parent_ctx.trace_id
            result = tracer.sampler.should_sample(parent, trace_id, name, _SERVER, attributes, ())
            decision = result.decision
            trace_state = result.trace_state
            initial = result.attributes
            fresh = False
            flags = _flags(decision, parent_ctx.trace_flags.random_trace_id)
        span_id = ids.generate_span_id()
        context = SpanContext(trace_id, span_id, False, flags, trace_state)
        record_end = tracer._tracer_metrics.start_span(parent_ctx, decision)
        if not decision.is_recording():  # type: ignore[no-untyped-call]
            return _NonRecordingSpan(context), trace_id, span_id, flags.sampled
        limits = tracer._span_limits
        span: ServerSpan = ServerSpan.__new__(ServerSpan)  # type: ignore[no-untyped-call]
        span._name = name
        span._context = context
        span._parent = parent_ctx
        span._resource = tracer.resource
        span._instrumentation_scope = tracer._instrumentation_scope
        span._instrumentation_info = tracer.instrumentation_info
        span._sampler = tracer.sampler
        span._span_processor = processor = tracer.span_processor
        span._limits = limits
        span._lock = _Lock()
        span._record_end_metrics = record_end
        attrs = _new_attributes(ServerAttributes)
        attrs.maxlen = None  # see ServerAttributes: the limit applies to user attributes only
        attrs.user_limit = limits.max_span_attributes
        attrs.max_value_len = limits.max_span_attribute_length
        attrs.dropped = 0
        attrs._lock = _Lock()
        attrs._immutable = False
        if initial:
            if (attrs.max_value_len is None and type(initial) is dict and (
                fresh or attrs.user_limit is None)
            ):  # fmt: skip
                # The middleware's own str values (its fresh dict is taken over as is).
                attrs._dict = initial if fresh else dict(initial)
            else:
                attrs._dict = {}
                attrs._set_items(initial)
        else:
            attrs._dict = {}
        span._attributes = attrs
        span._status = _UNSET
        span._start_time = time_ns()
        processor.on_start(span, parent_context=parent)
        return span, trace_id, span_id, flags is _SAMPLED_RANDOM or flags.sampled


def root_bound(sampler: Sampler) -> int | None:
    """For samplers whose root decision depends on the trace id alone (``[parentbased_]
    always_on/always_off/traceidratio``): keep a root span when ``trace_id & (2**64-1) < bound``.
    None for any other sampler (it is asked for every span)."""
    root: Any = sampler
    if isinstance(sampler, ParentBased):
        root = getattr(sampler, "_root", None)
    if isinstance(root, TraceIdRatioBased):
        return int(root.bound)
    if root is ALWAYS_ON:
        return 1 << 64
    if root is ALWAYS_OFF:
        return 0
    return None


def _flags(decision: Decision, random: bool) -> TraceFlags:
    sampled = decision.is_sampled()  # type: ignore[no-untyped-call]
    value = TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT
    if random:
        value |= TraceFlags.RANDOM_TRACE_ID
    return TraceFlags(value)


_RANDOM_FLAGS: Final = TraceFlags(TraceFlags.RANDOM_TRACE_ID)
#: The lock of every *ended* server span.  An ended span waits in the export queue (until a
#: batch is full — 128 spans by obskit's default — or 5 s), long enough for the collector to
#: promote every GC-tracked object it holds into the old generation, where each counts toward
#: the next full collection (a pause of tens of ms; see benchmarks/README.md, "Soak").  A lock is
#: such an object, and after ``end()`` the span's lock guards nothing (every mutator checks
#: ``_end_time`` first and gives up), so one shared lock replaces it; with the attribute map
#: unwrapped, a queued span holds 2 tracked objects (itself, its SpanContext) instead of 5.
_ENDED_LOCK: Final = threading.Lock()
_UNSET: Final = trace.Status(trace.StatusCode.UNSET)
#: Every server span's initial status (one shared object: the OTLP writer tests it by identity).
UNSET_STATUS: Final = _UNSET
