"""``init()``, ``instrument()``, ``shutdown()``: wiring the three signals once per process."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from typing import Any, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry

from obskit import conventions as c
from obskit._runtime import envcheck as _envcheck
from obskit._runtime import heap as _heap
from obskit._runtime import state as _state
from obskit._runtime.config import Config, LogProcessor, resolve
from obskit._runtime.http.exposition import MetricsApp, MetricsServer
from obskit._runtime.integrations import hooks as _frameworks
from obskit._runtime.logs.bridge import bridge_stdlib
from obskit._runtime.logs.loggers import configure_structlog
from obskit._runtime.logs.pipeline import LogPipeline
from obskit._runtime.logs.render import LINE_MAX_BYTES, PIPE_LINE_MAX_BYTES
from obskit._runtime.logs.setup import guard_call_errors, watch_logging_config
from obskit._runtime.metrics import multiproc as _multiproc
from obskit._runtime.metrics.instruments import HTTP_LABELS, OPERATION_LABELS, Metrics
from obskit._runtime.redact import Redactor
from obskit._runtime.tracing.setup import DropCounter, build_provider, install_global
from obskit._runtime.urls import ExcludedURLs

__all__ = ["init", "instrument", "metrics_app", "shutdown"]

A = TypeVar("A")
_lock = threading.RLock()
_warned_twice = False
_atexit_registered = False
_log = logging.getLogger("obskit")
_config_log = logging.getLogger("obskit.config")


class _HeldRecords(logging.Handler):
    """Holds obskit's own log records emitted while ``init()`` builds the state.

    The exporter and multiprocess set-up may warn (e.g. the gRPC exporter is not installed)
    before the stdlib bridge exists; without this they would reach stderr as plain text through
    logging's last-resort handler.  They are replayed through the bridge once it is in place.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._logger = logging.getLogger("obskit")
        self._propagate = self._logger.propagate

    def __enter__(self) -> _HeldRecords:
        self._logger.addHandler(self)
        self._logger.propagate = False
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.propagate = self._propagate

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def replay(self) -> None:
        """Hand every held record to its own logger's handlers (now the JSON bridge)."""
        for record in self.records:
            logging.getLogger(record.name).handle(record)
        self.records.clear()


def _patch_server_logging() -> None:
    """Servers that (re)configure logging after ``init()`` get obskit's bridge back (only
    those already imported: they imported the application)."""
    import sys

    from obskit._runtime.integrations import uvicorn

    uvicorn.patch_logging()
    if "gunicorn.glogging" in sys.modules:
        from obskit._runtime.integrations import gunicorn

        gunicorn.patch_logging()


def build_state(
    config: Config,
    *,
    registry: CollectorRegistry | None = None,
    multiprocess_dir: str | None = None,
    export: bool = True,
) -> _state.State:
    """Logs, metrics and traces for ``config`` (no global side effect except structlog).

    ``export=False``: spans are made (ids in the logs) but not exported.
    """
    # Imported here, after ``_envcheck.check_propagators()``: the module reads
    # OTEL_PROPAGATORS when imported and raises on an unknown name.
    _envcheck.check_propagators()
    from opentelemetry import propagate

    from obskit._runtime.tracing.propagation import GuardedPropagator

    redactor = Redactor.from_config(config)
    # Several workers share one stdout: lines are capped below the pipe's atomic write size.
    line_max = LINE_MAX_BYTES if multiprocess_dir is None else PIPE_LINE_MAX_BYTES
    pipeline = LogPipeline(config, redactor, line_max)
    exemplar_store = None
    files = exposition = provider = processor = tracer = None
    if multiprocess_dir is not None:
        files = _multiproc.ExemplarFiles(multiprocess_dir)
        files.ensure_thread()
        exemplar_store = files.store
    metrics = Metrics(
        config, registry or REGISTRY, exemplar_store=exemplar_store, synced_active=files is not None
    )
    if files is not None:
        files.on_tick = metrics.sync_active  # the active-requests counts, 4 times a second
    if multiprocess_dir is not None:
        from prometheus_client import ProcessCollector

        exposition = CollectorRegistry()
        exposition.register(
            _multiproc.MergedCollector(
                multiprocess_dir,
                {c.HTTP_DURATION: list(HTTP_LABELS), c.OPERATION_DURATION: list(OPERATION_LABELS)},
            )
        )
        ProcessCollector(registry=exposition)
    if config.traces:
        drops = DropCounter(metrics.spans_dropped.inc, metrics.export_error)
        provider, processor = build_provider(config, redactor, drops, export=export)
        tracer = provider.get_tracer("obskit")
    return _state.State(
        config=config,
        redactor=redactor,
        pipeline=pipeline,
        metrics=metrics,
        tracer=tracer,
        propagator=GuardedPropagator(
            propagate.get_global_textmap(), metrics.propagation_errors_child
        ),
        excluded=config.excluded_paths,
        access_log=config.access_log,
        excluded_urls=ExcludedURLs.from_env(),
        provider=provider,
        processor=processor,
        exemplar_files=files,
        exposition=exposition,
    )


def init(
    service_name: str | None = None,
    *,
    service_version: str | None = None,
    environment: str | None = None,
    log_processors: Sequence[LogProcessor] | None = None,
    **options: Any,
) -> None:
    """Configure JSON logs, RED metrics with exemplars and OpenTelemetry traces, once.

    Every option is a keyword argument or an ``OBSKIT_*`` variable (argument wins, then the
    environment, then the default); the standard ``OTEL_*`` variables are honoured. See
    ``docs/runtime.md`` for the list. A second call changes nothing and warns once.

    ``log_processors``: the application's own structlog processors, run on every application
    log line (structlog and stdlib) before redaction and rendering, so what they add is
    redacted too; one that raises is skipped for that line (one JSON warning), never the line.

    A bad *variable* value gives one JSON warning naming it and the default used
    (``obskit._runtime.envcheck``: the configuration rule); the service always starts.

    Raises:
        TypeError: an unknown option.
        ValueError: an invalid keyword-argument value (the message names the option).
    """
    global _warned_twice, _atexit_registered
    with _lock:
        if _state.STATE is not None:
            if not _warned_twice:
                _warned_twice = True
                warnings.warn(
                    "obskit.init() already called; ignoring", RuntimeWarning, stacklevel=2
                )
            return
        args = dict(options)
        args.update(
            service_name=service_name,
            service_version=service_version,
            environment=environment,
            log_processors=log_processors,
        )
        # The configuration rule (docs/runtime.md): bad variables are reported, not fatal.
        found = _envcheck.take_pending() + _envcheck.check()
        # A value check() does not remove (e.g. OTEL_LOGS_EXPORTER) is found twice: once each.
        problems = list({(p.variable, p.value): p for p in found}.values())
        config = resolve(args, problems=problems)
        with _HeldRecords() as held:
            for problem in problems:
                _config_log.warning("invalid setting", extra=problem.fields())
            mp_dir = _multiproc.detect()
            if mp_dir is not None and not _multiproc.enable(mp_dir):
                mp_dir = None  # one warning said so: each worker serves its own metrics
            export = not any(p.using.startswith(_envcheck.NO_EXPORT) for p in problems)
            st = build_state(config, multiprocess_dir=mp_dir, export=export)
        configure_structlog(st.pipeline)
        bridge_stdlib(st.pipeline)
        held.replay()
        # Each fast path that uses a dependency's private internals is checked once against
        # the public API; one that fails is switched off with one JSON warning.
        from obskit._runtime.selftest import run as check_internals

        check_internals(st)
        _patch_server_logging()
        watch_logging_config()
        guard_call_errors()
        provider = st.provider
        if provider is not None:
            install_global(provider)
        _state.STATE = st
        if config.instrument_frameworks:
            _frameworks.install()
        if config.metrics_port:
            server = MetricsServer(config.metrics_addr, config.metrics_port, shared=mp_dir)
            st.server = server
            server.start()
        if provider is not None and config.instrument_libraries:
            from obskit._runtime.tracing.libraries import instrument_libraries

            instrument_libraries()
        if not _atexit_registered:
            _atexit_registered = True
            atexit.register(shutdown)
            os.register_at_fork(after_in_child=_after_fork_in_child)
        if config.gc_freeze:
            # What init() built leaves the full collections' reach (heap.py: why, and the price).
            _heap.freeze("init")


def _after_fork_in_child() -> None:
    st = _state.STATE
    if st is not None:
        st.after_fork_in_child()


def instrument(app: A) -> A:
    """Instrument an ASGI or WSGI application and return it (idempotent).

    Starlette/FastAPI and Flask objects are instrumented in place and returned; any other
    callable is wrapped. ``init()`` runs with its defaults first if it has not run yet.
    """
    if _state.STATE is None:
        init()
    result: A = _frameworks.instrument_app(app)
    return result


def metrics_app() -> Any:
    """The ``/metrics`` exposition as an app that is both ASGI and WSGI (format negotiated)."""
    return MetricsApp()


def flush() -> None:
    """Export queued spans and write exemplars now (:meth:`State.flush`); obskit keeps working.

    Called when a server's lifespan shutdown completes (uvicorn does not run ``atexit`` hooks
    when it re-raises SIGTERM).
    """
    st = _state.STATE
    if st is not None:
        st.flush()


def shutdown() -> None:
    """Flush spans and exemplars and stop the metrics server (also runs at exit; idempotent)."""
    with _lock:
        st = _state.STATE
        if st is not None:
            st.close()
