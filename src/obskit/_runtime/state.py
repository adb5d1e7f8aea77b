"""The runtime's process-wide state, read by the middleware on every request.

A single module-level ``STATE`` (None before ``init()``) keeps the hot path to one global read, and
lets ``obskit.testing`` swap in an isolated state (registry, in-memory spans, captured logs).
:class:`State` owns what ``init()`` started (span processor, exemplar files, metrics server) and
stops it: :meth:`State.flush`, :meth:`State.close`, :meth:`State.after_fork_in_child`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from opentelemetry import trace
from opentelemetry.propagators.textmap import TextMapPropagator

from obskit import conventions as c
from obskit._runtime.config import Config
from obskit._runtime.logs.pipeline import LogPipeline
from obskit._runtime.metrics.instruments import Metrics
from obskit._runtime.redact import Redactor
from obskit._runtime.tracing.span import ServerSpans

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from prometheus_client import CollectorRegistry

    from obskit._runtime.metrics.multiproc import ExemplarFiles
    from obskit._runtime.tracing.setup import BoundedBatchProcessor
    from obskit._runtime.urls import ExcludedURLs

__all__ = ["STATE", "MetricsServing", "State", "get_state"]

_INFO = logging.INFO
_OTHER = c.METHOD_OTHER
#: The span name's method for ``_OTHER`` requests (never the attacker's text).
_SPAN_OTHER = c.SPAN_METHOD_OTHER
_log = logging.getLogger("obskit")


class MetricsServing(Protocol):
    """What the state needs of the ``/metrics`` server (``obskit._runtime.http.exposition``,
    a layer above this one)."""

    def stop(self) -> None: ...
    def close_in_child(self) -> None: ...


@dataclass(eq=False)
class State:
    """Everything the middleware needs, resolved once by ``init()``, and what it started."""

    config: Config
    redactor: Redactor
    pipeline: LogPipeline
    metrics: Metrics
    tracer: trace.Tracer | None
    propagator: TextMapPropagator
    excluded: frozenset[str]
    access_log: bool
    #: Lean server spans for ``tracer``; None: ``tracer`` is used.
    server_spans: ServerSpans | None = None
    #: ``OTEL_PYTHON_[<FRAMEWORK>_]EXCLUDED_URLS``; None: unset.
    excluded_urls: ExcludedURLs | None = None
    #: The SDK provider ``init()`` built (None with traces off, or an isolated test state).
    provider: TracerProvider | None = None
    #: obskit's export processor (None: traces off, or ``OTEL_TRACES_EXPORTER=none``).
    processor: BoundedBatchProcessor | None = None
    #: Multi-worker mode: this worker's exemplar file, and the merged view ``/metrics`` serves.
    exemplar_files: ExemplarFiles | None = None
    exposition: CollectorRegistry | None = None
    #: The ``/metrics`` server on its own port (None: not this process, or port 0).
    server: MetricsServing | None = None
    shut_down: bool = False

    def __post_init__(self) -> None:
        if self.server_spans is None and self.tracer is not None:
            self.server_spans = ServerSpans.for_tracer(self.tracer)

    def is_excluded(self, path: str) -> bool:
        """Whether ``path`` (trailing ``/`` ignored) is excluded from measurement."""
        excluded = self.excluded
        if path in excluded:
            return True
        return path[-1:] == "/" and len(path) > 1 and path.rstrip("/") in excluded

    def flush(self) -> None:
        """Export queued spans and write exemplars now, waiting at most ``shutdown_timeout``;
        obskit keeps working afterwards (a no-op once closed)."""
        if self.shut_down:
            return
        if self.exemplar_files is not None:
            self.metrics.sync_active()
            self.exemplar_files.flush()
        processor = self.processor
        if processor is None:
            return
        done = threading.Thread(target=processor.force_flush, name="obskit-flush", daemon=True)
        done.start()
        done.join(self.config.shutdown_timeout)

    def close(self) -> None:
        """Flush and stop the span processor, the exemplar files and the metrics server
        (idempotent; never raises: it runs from ``atexit``)."""
        if self.shut_down:
            return
        self.shut_down = True
        if self.processor is not None:
            try:
                self.processor.shutdown(int(self.config.shutdown_timeout * 1000))
            except Exception:  # never raise from an atexit hook
                _log.debug("span processor shutdown failed", exc_info=True)
        if self.exemplar_files is not None:
            self.exemplar_files.stop()
        if self.server is not None:
            self.server.stop()

    def after_fork_in_child(self) -> None:
        """Per-process state after a fork: no inherited listening socket (a pre-forked worker's
        siblings share the directory: the master serves), a fresh exemplar file, a new pid."""
        self.metrics.after_fork_in_child()  # before the flusher thread below restarts
        if self.server is not None:
            self.server.close_in_child()
            self.server = None
        if self.exemplar_files is not None:
            self.exemplar_files.ensure_thread()
        if self.provider is not None:
            from obskit._runtime.tracing.setup import refresh_pid

            refresh_pid(self.provider)


STATE: State | None = None


def get_state() -> State | None:
    """The current state (None before ``init()``)."""
    return STATE
