"""The tracer provider: resource, sampler from the environment, bounded export, drop counting.

Exports run on the batch processor's thread; the queue is bounded and a span that does not fit is
dropped *and counted* (``obskit_otel_spans_dropped_total``) with a single warning per process, so
a dead or slow collector never blocks, fails or floods a request.  The SDK's batch processor
restarts its thread in forked children (``os.register_at_fork``), which is what pre-fork servers
need.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import platform
import socket
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Link

from obskit._runtime.config import Config
from obskit._runtime.envcheck import export_timeout_s
from obskit._runtime.envcheck import sampler as env_sampler
from obskit._runtime.redact import REDACTED, Redactor
from obskit._runtime.tracing.span import ServerSpan
from obskit.conventions import EXPORT_ERROR_ENCODE, EXPORT_ERROR_EXPORT

__all__ = ["DropCounter", "RedactingExporter", "build_provider"]

_log = logging.getLogger("obskit.tracing")
DROPPED_WARNING: Final = "spans dropped: OTLP endpoint unreachable or slow"
SHUTDOWN_WARNING: Final = (
    "spans dropped: obskit.shutdown() was called; spans of later requests are not exported"
)
#: obskit's own export path failed (a bug or an upstream change, never the network): one warning
#: per process and kind, with the error; counted in ``obskit_export_errors_total{kind}``.
ENCODE_WARNING: Final = (
    "span batch encoded by the official OTLP encoder: obskit's encoder failed on it "
    "(obskit's export path, not a network error; the batch is still sent)"
)
EXPORT_ERROR_WARNING: Final = (
    "spans dropped: obskit's export path failed (not a network error; the endpoint was not "
    "the cause)"
)
ATTRIBUTE_LIMIT_WARNING: Final = (
    "span attributes dropped: a span attribute count limit was reached "
    "(OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT / OTEL_ATTRIBUTE_COUNT_LIMIT)"
)
_SAFE_MAX = 4096
_ABSENT: Final = object()
#: Longest a request waits for the export thread to take over a full batch (see
#: ``BoundedBatchProcessor``); once per batch (128 spans by default).
_HANDOFF_S = 0.002


def context_free(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``call`` in an empty context: a process-wide warning written while a request runs
    must not carry that request's ``trace_id``/``span_id`` or bound contextvars."""
    return contextvars.Context().run(call, *args, **kwargs)


class DropCounter:
    """Counts dropped spans into a metric and warns once per process (per kind of loss)."""

    def __init__(
        self, add: Callable[[int], None], own_error: Callable[[str], None] | None = None
    ) -> None:
        self._add = add
        #: Counts one failure of obskit's own export path by kind (``Metrics.export_error``).
        self._own_error = own_error
        self._warned_pid = 0
        self._closed_pid = 0
        #: kind -> pid that already warned about obskit's own export-path failures.
        self._own_warned: dict[str, int] = {}
        self._lock = threading.Lock()

    def own_failure(self, kind: str, error: BaseException | str, dropped: int = 0) -> None:
        """obskit's own export path failed (``kind``: ``encode`` or ``export``): counted, and
        one warning per process and kind naming the error — never the endpoint's fault."""
        if self._own_error is not None:
            self._own_error(kind)
        if dropped:
            self._add(dropped)
        with self._lock:
            if self._own_warned.get(kind) == os.getpid():
                return
            self._own_warned[kind] = os.getpid()
        text = error if isinstance(error, str) else f"{type(error).__qualname__}: {error}"
        fields: dict[str, Any] = {"kind": kind, "error": text}
        if dropped:
            fields["dropped"] = dropped
        message = ENCODE_WARNING if kind == "encode" else EXPORT_ERROR_WARNING
        context_free(_log.warning, message, extra=fields)

    def dropped(self, count: int, reason: str) -> None:
        if count <= 0:
            return
        self._add(count)
        with self._lock:
            if self._warned_pid == os.getpid():
                return
            self._warned_pid = os.getpid()
        context_free(
            _log.warning,
            DROPPED_WARNING,
            extra={"reason": reason, "dropped": count},
        )

    def after_shutdown(self) -> None:
        """A span ended after ``obskit.shutdown()``: counted, and one warning per process."""
        self._add(1)
        with self._lock:
            if self._closed_pid == os.getpid():
                return
            self._closed_pid = os.getpid()
        context_free(_log.warning, SHUTDOWN_WARNING, extra={"reason": "shut down"})


class RedactingExporter(SpanExporter):
    """Redacts secret span attributes, counts failed exports as dropped spans."""

    def __init__(self, inner: SpanExporter, redactor: Redactor, drops: DropCounter | None) -> None:
        self.inner = inner
        self._redactor = redactor
        self._drops = drops
        #: Set when an export starts (``BoundedBatchProcessor``'s hand-off waits for it).
        self.started: threading.Event | None = None
        #: True while an export runs (a hand-off is pointless then: the thread is busy).
        self.busy = False
        #: Attribute keys already found not secret (set operations only: atomic under the GIL,
        #: so request threads and the export thread share it).
        self._safe: set[str] = set()
        #: Writes an ended server span's OTLP message when it is queued (see :meth:`prepare`),
        #: or None when the inner exporter is not obskit's.
        self._pre_encode: Callable[[Any], None] | None = getattr(inner, "pre_encode", None)

    def prepare(self, span: ReadableSpan) -> None:
        """Called as ``span`` is queued (in the thread that ended it): an obskit server span
        with nothing to redact is written to OTLP bytes now (``ObskitSpanExporter.pre_encode``),
        so the export thread only joins and sends them.  Never raises."""
        encode = self._pre_encode
        if encode is None or type(span) is not ServerSpan or RESOURCE_SWAP:
            return
        try:
            if self._clean(span) is span:
                encode(span)
        except Exception:  # noqa: S110 - export-time redaction and encoding handle the span
            pass

    def _clean(self, span: ReadableSpan) -> ReadableSpan:
        if RESOURCE_SWAP:  # after a fork, when the pid could not be refreshed in place
            span = _with_fresh_resource(span)
        if getattr(span, "otlp", None) is not None:
            return span  # found clean when it was written (``prepare``): nothing to redact
        raw = getattr(span, "_attributes", None)  # the SDK's map, not a read-only proxy of it
        attrs = span.attributes if raw is None else raw
        clean = self._clean_attributes(attrs)
        # The SDK's own lists, read as the OTLP encoder does (no copy); the public properties
        # when those fields are not there (an SDK release that renamed them).
        raw_events: Any = getattr(span, "_events", _ABSENT)
        events = span.events if raw_events is _ABSENT else raw_events or ()
        raw_links: Any = getattr(span, "_links", _ABSENT)
        links = span.links if raw_links is _ABSENT else raw_links or ()
        clean_events = self._clean_events(events) if events else None
        clean_links = self._clean_links(links) if links else None
        if clean is None and clean_events is None and clean_links is None:
            return span
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=attrs if clean is None else clean,
            events=span.events if clean_events is None else clean_events,
            links=span.links if clean_links is None else clean_links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def _clean_attributes(self, attrs: Any) -> BoundedAttributes | None:
        """A redacted copy of ``attrs`` (keeping its dropped count), or None when nothing in it
        is secret (the common case: a set check of its keys in one C call)."""
        if not attrs:
            return None
        redactor = self._redactor
        keys = getattr(attrs, "_dict", attrs)
        safe = self._safe
        if not redactor.patterns and safe.issuperset(keys):
            return None
        is_secret = redactor.is_secret
        secret = bool(redactor.patterns)
        for key in keys:
            if is_secret(key):
                secret = True
            elif len(safe) < _SAFE_MAX:
                safe.add(key)
        if not secret:
            return None
        clean = BoundedAttributes(
            attributes={k: self._clean_value(k, v) for k, v in attrs.items()}, immutable=True
        )
        clean.dropped = getattr(attrs, "dropped", 0)
        return clean

    def _clean_value(self, key: str, value: Any) -> Any:
        redactor = self._redactor
        if redactor.is_secret(key):
            return REDACTED
        if redactor.patterns:
            if isinstance(value, str):
                return redactor.scrub(value)
            if isinstance(value, (list, tuple)):
                return tuple(redactor.scrub(v) if isinstance(v, str) else v for v in value)
        return value

    def _clean_events(self, events: Sequence[Event]) -> list[Event] | None:
        """Events with their attributes redacted (the same rule as span attributes), or None."""
        cleaned = [self._clean_attributes(event.attributes) for event in events]
        if all(c is None for c in cleaned):
            return None
        return [
            event if clean is None else Event(event.name, clean, event.timestamp)
            for event, clean in zip(events, cleaned, strict=True)
        ]

    def _clean_links(self, links: Sequence[Link]) -> list[Link] | None:
        cleaned = [self._clean_attributes(link.attributes) for link in links]
        if all(c is None for c in cleaned):
            return None
        return [
            link if clean is None else Link(link.context, clean)
            for link, clean in zip(links, cleaned, strict=True)
        ]

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.busy = True
        if self.started is not None:
            self.started.set()
        own: BaseException | str | None = None
        try:
            with _own_export():
                result = self.inner.export([self._clean(s) for s in spans])
        except Exception as exc:  # an exporter bug must not kill the export thread
            result = SpanExportResult.FAILURE
            own = exc
        finally:
            self.busy = False
        if result is not SpanExportResult.SUCCESS and self._drops is not None:
            if own is None:
                own = getattr(self.inner, "own_failure", None)
            if own is not None:  # obskit's own path failed: never reported as the network
                self._drops.own_failure(EXPORT_ERROR_EXPORT, own, len(spans))
            else:
                self._drops.dropped(len(spans), "export failed")
        return result

    def shutdown(self) -> None:
        with _own_export():
            self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        with _own_export():
            return self.inner.force_flush(timeout_millis)


def _with_fresh_resource(span: ReadableSpan) -> ReadableSpan:
    """``span`` with this process's resource if it carries a stale one (see ``refresh_pid``)."""
    swap = RESOURCE_SWAP.get(id(span.resource))
    if swap is None or swap[0] is not span.resource:
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=swap[1],
        attributes=span.attributes,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class BoundedBatchProcessor(BatchSpanProcessor):
    """A batch processor that counts (instead of logging per span) what its full queue drops,
    and hands the GIL to its export thread when a batch is ready.

    Why the hand-off: a busy request thread releases the GIL only for short system calls (each
    log line's write) and takes it back within microseconds, so the export thread woken for a
    full batch keeps losing the race for it — CPython's forced switch only triggers after 5 ms
    without *any* switch.  It then sits in the GIL's wait queue, every release pays a futile
    wake-up, and the queue overflows (spans dropped) while requests get slower.  Instead, the
    request that completes a batch waits (at most ``_HANDOFF_S``) until the export thread has
    started exporting: the encoding then runs in one stretch, as the same CPU time it always
    costs, and nothing is lost.
    """

    def __init__(self, exporter: SpanExporter, drops: DropCounter, **kwargs: Any) -> None:
        self._started = threading.Event()
        #: The exporter whose ``busy`` flag the hand-off reads (None: no hand-off).
        self._redacting = exporter if isinstance(exporter, RedactingExporter) else None
        if self._redacting is not None:
            self._redacting.started = self._started
        super().__init__(exporter, **kwargs)
        self._drops = drops
        #: Set by ``shutdown()``: later spans are counted as dropped (one warning), not queued.
        self._closed = False
        inner = getattr(self, "_batch_processor", _ABSENT)
        queue = getattr(inner, "_queue", None)
        largest: Any = getattr(inner, "_max_queue_size", None)
        batch: Any = getattr(inner, "_max_export_batch_size", None)
        emit = getattr(inner, "emit", None)
        #: The SDK internal this fast path cannot use (the self-test names it in its one
        #: warning), or None.  When set, every span takes the SDK's own ``on_end``: a missing
        #: or renamed limit must never read as 0 and drop every span as "queue full".
        self.missing_internal: str | None = None
        if inner is _ABSENT:
            self.missing_internal = "BatchSpanProcessor._batch_processor is not there"
        elif not hasattr(queue, "__len__"):
            self.missing_internal = "BatchProcessor._queue is not there (or not a sized queue)"
        elif not _positive_int(largest):
            self.missing_internal = f"BatchProcessor._max_queue_size is {_shown(largest)}"
        elif not _positive_int(batch):
            self.missing_internal = f"BatchProcessor._max_export_batch_size is {_shown(batch)}"
        elif not callable(emit):
            self.missing_internal = "BatchProcessor.emit is not there"
        ok = self.missing_internal is None
        self._queue = queue if ok else None
        self._max: int = largest if ok else 0
        self._batch: int = batch if ok else 0
        self._emit: Any = emit if ok else None
        self._prepare = self._redacting.prepare if self._redacting is not None else None
        if hasattr(os, "register_at_fork"):
            # A lock held by another thread at fork time stays held in the child: renew.
            ref = weakref.ref(self)

            def renew() -> None:
                me = ref()
                if me is not None:
                    me._started = threading.Event()
                    if me._redacting is not None:
                        me._redacting.started = me._started
                        me._redacting.busy = False  # the parent's export thread is not here

            os.register_at_fork(after_in_child=renew)

    def on_end(self, span: ReadableSpan) -> None:
        if not (span.context and span.context.trace_flags.sampled):
            return
        if self._closed:  # the SDK would discard it silently
            self._drops.after_shutdown()
            return
        queue = self._queue
        if queue is None:  # SDK internals changed (see ``missing_internal``): the SDK's path
            super().on_end(span)
            return
        size = len(queue)
        if size >= self._max:
            self._drops.dropped(1, "queue full")
            return
        # This span wakes the export thread (a full batch); if it is idle, let it take the GIL.
        redacting = self._redacting
        handoff = size + 1 == self._batch and redacting is not None and not redacting.busy
        prepare = self._prepare
        if prepare is not None:
            prepare(span)
        if handoff:
            self._started.clear()  # before the wake-up, so the thread's start is never missed
        if size + 1 < self._max:
            self._emit(span)  # BatchSpanProcessor.on_end minus the sampled check already made
        else:  # another thread may fill the queue first: the SDK's "Queue full" is obskit's
            with _own_export():
                self._emit(span)
        if handoff:
            self._started.wait(_HANDOFF_S)

    def shutdown(self, timeout_millis: int = 5000) -> None:
        """Export what is queued, waiting at most ``timeout_millis`` (the SDK waits 30 s)."""
        self._closed = True
        inner = getattr(self, "_batch_processor", None)
        if inner is None:  # pragma: no cover - SDK internals changed
            super().shutdown()  # type: ignore[no-untyped-call]
            return
        inner.shutdown(timeout_millis=timeout_millis)


def _positive_int(value: object) -> bool:
    return type(value) is int and value > 0


def _shown(value: object) -> str:
    """``value`` as the self-test's warning names it (a missing attribute reads as None)."""
    return "not there" if value is None else f"{type(value).__name__} {value!r}, not an int > 0"


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value.strip()
    return None


def _exporter(export: bool = True, drops: DropCounter | None = None) -> SpanExporter | None:
    """The exporter ``OTEL_TRACES_EXPORTER``/``OTEL_EXPORTER_OTLP_*`` ask for (None: ``none``, or
    ``export=False``: an endpoint that is not a URL).  The variables were checked and cleaned by
    :mod:`obskit._runtime.envcheck` first, so every value read here is usable."""
    kind = (_env("OTEL_TRACES_EXPORTER") or "otlp").split(",")[0].strip().lower()
    if kind == "none" or not export:
        return None
    if kind == "console":
        return ConsoleSpanExporter()
    # The specification's unit is milliseconds, the Python SDK's seconds: converted here.
    timeout = export_timeout_s()
    variable = next(
        (
            name
            for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
            if os.environ.get(name, "").strip()
        ),
        None,
    )
    protocol = os.environ[variable].strip().lower() if variable else "http/protobuf"
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found, unused-ignore]
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            _log.warning(
                "invalid setting",
                extra={
                    "variable": variable,
                    "value": "grpc",
                    "problem": "the grpc exporter is not installed (pip install 'obskit[grpc]')",
                    "using": "http/protobuf",
                },
            )
        else:
            grpc_exporter: SpanExporter = GrpcExporter(timeout=timeout)
            return grpc_exporter
    from obskit._runtime.tracing.otlp import make_exporter

    # obskit's own subclass of the official exporter (several times cheaper encoding on the
    # export thread, same bytes); the official exporter class itself is left as it is.
    def encode_failed(exc: BaseException) -> None:
        if drops is not None:
            drops.own_failure(EXPORT_ERROR_ENCODE, exc)

    exporter: SpanExporter = make_exporter(encode_failed, timeout=timeout)
    return exporter


def resource(config: Config) -> Resource:
    """service.*, deployment.environment.name, host and process attributes (+ env attributes)."""
    attrs: dict[str, Any] = {
        "service.name": config.service_name,
        "host.name": socket.gethostname(),
        "process.pid": os.getpid(),
        "process.runtime.name": platform.python_implementation().lower(),
        "process.runtime.version": platform.python_version(),
        "telemetry.distro.name": "obskit",
    }
    if config.service_version:
        attrs["service.version"] = config.service_version
    if config.environment:
        attrs["deployment.environment.name"] = config.environment
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES first, then these win.
    return Resource.create(attrs)


#: The SDK and exporters log every failed export (with retries, several lines per batch): obskit
#: reports its own failures itself — the dropped-spans counter and one warning per process.
_NOISY_LOGGERS = (
    "opentelemetry.exporter.otlp",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.trace.export",
)
#: ``active`` is True on a thread while it runs obskit's own export (``RedactingExporter``).
_OWN_EXPORT: Final = threading.local()


class _OwnExportFilter(logging.Filter):
    """Drops the records obskit's own export makes the SDK and exporters log; an exporter or
    batch processor of the user's own in the same process still logs (its failures are not
    obskit's to count)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_OWN_EXPORT, "active", False)


_OWN_EXPORT_FILTER: Final = _OwnExportFilter()


@contextlib.contextmanager
def _own_export() -> Iterator[None]:
    """Marks this thread as running obskit's export (nested calls keep the outer mark)."""
    outer = getattr(_OWN_EXPORT, "active", False)
    _OWN_EXPORT.active = True
    try:
        yield
    finally:
        _OWN_EXPORT.active = outer


def quiet_exporter_logs() -> None:
    """Silence the per-failure export logs of obskit's own export (obskit counts and warns once
    instead), and let each of the SDK's attribute warnings through once per process (see
    ``_OnceFilter``).

    A logger's filter sees only the records logged *to that logger*, not its children's, so the
    filter goes on every logger under :data:`_NOISY_LOGGERS` that exists by now (obskit has
    imported the SDK and the exporter: their module loggers are made at import), found by
    prefix rather than by the module names a release may move."""
    manager = logging.Logger.manager
    names = set(_NOISY_LOGGERS)
    names.update(
        name
        for name in list(manager.loggerDict)
        if any(name.startswith(prefix + ".") for prefix in _NOISY_LOGGERS)
    )
    for name in names:
        logger = logging.getLogger(name)
        if _OWN_EXPORT_FILTER not in logger.filters:
            logger.addFilter(_OWN_EXPORT_FILTER)
    attributes = logging.getLogger("opentelemetry.attributes")
    if not any(isinstance(f, _OnceFilter) for f in attributes.filters):
        attributes.addFilter(_OnceFilter())


class _OnceFilter(logging.Filter):
    """The SDK's ``opentelemetry.attributes`` logger warns on *every* attribute it drops (so on
    every request when a count limit is low): each message template passes once per process,
    and "dict is full" becomes obskit's one warning naming the variables, written outside the
    request's context (it is about the process's settings, not one request)."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        template = str(record.msg)
        with self._lock:
            if self._seen.get(template) == os.getpid() or len(self._seen) > 64:
                return False
            self._seen[template] = os.getpid()
        if template.startswith("Attributes dict is full"):
            context_free(_log.warning, ATTRIBUTE_LIMIT_WARNING, extra=_limits())
            return False
        return True


def _limits() -> dict[str, str]:
    """The attribute-limit variables that are set (named in the limit warning)."""
    names = (
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    )
    return {name: os.environ[name] for name in names if name in os.environ}


def refresh_pid(provider: TracerProvider) -> None:
    """After a fork: the shared Resource object gets this process's ``process.pid``.

    Every tracer (obskit's and the libraries') holds the provider's one Resource object, so
    replacing its private attribute map in place fixes them all.  Should that map not be there
    (or the write not take), the exporter swaps the stale resource for a new one on each
    exported span instead (a copy per span: slower, same output) and one warning says so.
    """
    res = provider.resource
    attrs = dict(res.attributes)
    if attrs.get("process.pid") == os.getpid():
        return
    attrs["process.pid"] = os.getpid()
    error = "Resource._attributes is not there"
    if hasattr(res, "_attributes"):
        try:
            res._attributes = BoundedAttributes(attributes=attrs, immutable=True)
        except Exception as exc:
            error = f"{type(exc).__qualname__}: {exc}"
        else:
            if res.attributes.get("process.pid") == os.getpid():
                return
            error = "writing Resource._attributes did not change Resource.attributes"
    from obskit._runtime.internals import SELFTEST_WARNING

    RESOURCE_SWAP[id(res)] = (res, Resource(attrs, res.schema_url))
    context_free(
        logging.getLogger("obskit").warning,
        SELFTEST_WARNING,
        extra={
            "fast_path": "resource pid",
            "internal": "opentelemetry-sdk: Resource._attributes",
            "error": error,
        },
    )


#: ``id(stale resource) -> (stale resource, this process's resource)``: filled by
#: :func:`refresh_pid` only when the in-place refresh is not possible; read by the exporter.
RESOURCE_SWAP: dict[int, tuple[Resource, Resource]] = {}


def build_provider(
    config: Config, redactor: Redactor, drops: DropCounter, *, export: bool = True
) -> tuple[TracerProvider, BoundedBatchProcessor | None]:
    """A provider with obskit's resource and (unless ``none``) a bounded batch exporter."""
    provider = TracerProvider(
        resource=resource(config), shutdown_on_exit=False, sampler=env_sampler()
    )
    exporter = _exporter(export, drops)
    quiet_exporter_logs()
    processor = None
    if exporter is not None:
        kwargs: dict[str, Any] = {}
        if _env("OTEL_BSP_MAX_QUEUE_SIZE") is None:
            kwargs["max_queue_size"] = 2048
        if _env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") is None:
            # Not the SDK's 512: queued spans are GC-tracked objects, and a queue that holds
            # more than the collector's young-generation threshold (700 allocations) gets
            # promoted to the old generation batch after batch, which brings on full
            # collections (pauses of tens of ms).  128 spans keep it below; see
            # benchmarks/README.md, "Soak".
            kwargs["max_export_batch_size"] = 128
        processor = BoundedBatchProcessor(
            RedactingExporter(exporter, redactor, drops), drops, **kwargs
        )
        provider.add_span_processor(processor)
    return provider, processor


def install_global(provider: TracerProvider) -> None:
    """Make ``provider`` the global one (for client-library instrumentations), if still unset."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        _log.warning("a TracerProvider was already set; obskit's spans use its own provider")
        return
    trace.set_tracer_provider(provider)
