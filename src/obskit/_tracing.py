"""The tracer provider: resource, sampler from the environment, bounded export, drop counting.

Exports run on the batch processor's thread; the queue is bounded and a span that does not fit is
dropped *and counted* (``obskit_otel_spans_dropped_total``) with a single warning per process, so
a dead or slow collector never blocks, fails or floods a request.  The SDK's batch processor
restarts its thread in forked children (``os.register_at_fork``), which is what pre-fork servers
need.
"""

from __future__ import annotations

import logging
import os
import platform
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)

from obskit._config import Config
from obskit._redact import REDACTED, Redactor

__all__ = ["DropCounter", "RedactingExporter", "build_provider"]

_log = logging.getLogger("obskit.tracing")


class DropCounter:
    """Counts dropped spans into a metric and warns once per process."""

    def __init__(self, add: Callable[[int], None]) -> None:
        self._add = add
        self._warned_pid = 0
        self._lock = threading.Lock()

    def dropped(self, count: int, reason: str) -> None:
        if count <= 0:
            return
        self._add(count)
        with self._lock:
            if self._warned_pid == os.getpid():
                return
            self._warned_pid = os.getpid()
        _log.warning(
            "spans dropped: OTLP endpoint unreachable or slow",
            extra={"reason": reason, "dropped": count},
        )


class RedactingExporter(SpanExporter):
    """Redacts secret span attributes, counts failed exports as dropped spans."""

    def __init__(self, inner: SpanExporter, redactor: Redactor, drops: DropCounter | None) -> None:
        self.inner = inner
        self._redactor = redactor
        self._drops = drops

    def _clean(self, span: ReadableSpan) -> ReadableSpan:
        attrs = span.attributes
        if not attrs or not any(self._redactor.is_secret(k) for k in attrs):
            return span
        clean = {k: (REDACTED if self._redactor.is_secret(k) else v) for k, v in attrs.items()}
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=clean,
            events=span.events,
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export([self._clean(s) for s in spans])
        except Exception:  # an exporter bug must not kill the export thread
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS and self._drops is not None:
            self._drops.dropped(len(spans), "export failed")
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class BoundedBatchProcessor(BatchSpanProcessor):
    """A batch processor that counts (instead of logging per span) what its full queue drops."""

    def __init__(self, exporter: SpanExporter, drops: DropCounter, **kwargs: Any) -> None:
        super().__init__(exporter, **kwargs)
        self._drops = drops
        inner = getattr(self, "_batch_processor", None)
        self._queue = getattr(inner, "_queue", None)
        self._max = getattr(inner, "_max_queue_size", 0)

    def on_end(self, span: ReadableSpan) -> None:
        if not (span.context and span.context.trace_flags.sampled):
            return
        queue = self._queue
        if queue is not None and len(queue) >= self._max:
            self._drops.dropped(1, "queue full")
            return
        super().on_end(span)

    def shutdown(self, timeout_millis: int = 5000) -> None:
        """Export what is queued, waiting at most ``timeout_millis`` (the SDK waits 30 s)."""
        inner = getattr(self, "_batch_processor", None)
        if inner is None:  # pragma: no cover - SDK internals changed
            super().shutdown()  # type: ignore[no-untyped-call]
            return
        inner.shutdown(timeout_millis=timeout_millis)


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value.strip()
    return None


def _exporter() -> SpanExporter | None:
    """The exporter ``OTEL_TRACES_EXPORTER``/``OTEL_EXPORTER_OTLP_*`` ask for (None: ``none``)."""
    kind = (_env("OTEL_TRACES_EXPORTER") or "otlp").split(",")[0].strip().lower()
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleSpanExporter()
    if kind != "otlp":
        _log.warning("unsupported OTEL_TRACES_EXPORTER; using otlp", extra={"value": kind})
    timeout: float | None = None
    if _env("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT") is None:
        timeout = 3.0  # the SDK's 10 s default holds the export thread far too long
    protocol = _env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found, unused-ignore]
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            _log.warning(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc but the grpc exporter is not installed "
                "(pip install 'obskit[grpc]'); using http/protobuf"
            )
        else:
            exporter: SpanExporter = GrpcExporter(timeout=timeout)
            return exporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from obskit._otlp import install as install_fast_encoder

    install_fast_encoder()  # several times cheaper on the export thread (same bytes)
    return OTLPSpanExporter(timeout=timeout)


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
#: reports failures itself — the dropped-spans counter and one warning per process.
_NOISY_LOGGERS = (
    "opentelemetry.exporter.otlp",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.trace.export",
)


def quiet_exporter_logs() -> None:
    """Silence the SDK's per-failure export logs (obskit counts and warns once instead)."""
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def refresh_pid(provider: TracerProvider) -> None:
    """After a fork: the shared Resource object gets this process's ``process.pid``.

    Every tracer (obskit's and the libraries') holds the provider's one Resource object, so
    replacing its attribute map in place fixes them all.
    """
    from opentelemetry.attributes import BoundedAttributes

    res = provider.resource
    attrs = dict(res.attributes)
    if attrs.get("process.pid") == os.getpid():
        return
    attrs["process.pid"] = os.getpid()
    if hasattr(res, "_attributes"):
        res._attributes = BoundedAttributes(attributes=attrs, immutable=True)


def build_provider(
    config: Config, redactor: Redactor, drops: DropCounter
) -> tuple[TracerProvider, BoundedBatchProcessor | None]:
    """A provider with obskit's resource and (unless ``none``) a bounded batch exporter."""
    provider = TracerProvider(resource=resource(config), shutdown_on_exit=False)
    exporter = _exporter()
    quiet_exporter_logs()
    processor = None
    if exporter is not None:
        kwargs: dict[str, Any] = {}
        if _env("OTEL_BSP_MAX_QUEUE_SIZE") is None:
            kwargs["max_queue_size"] = 2048
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
