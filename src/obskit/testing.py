"""pytest plugin for testing code that uses obskit: in-memory spans, captured log events and an
isolated metrics registry.

Registered automatically (``pytest11`` entry point). Each fixture is function-scoped and shares
one isolated runtime for the test: obskit's state is swapped in for the test and the previous one
(``init()``'s, if any) restored afterwards, so nothing is exported, printed or served::

    def test_checkout(obskit_spans, obskit_logs, obskit_metrics):
        client.post("/checkout")
        assert obskit_spans.names() == ["POST /checkout"]
        assert obskit_logs.events[-1]["event"] == "request"
        assert obskit_metrics.value(
            "http_server_request_duration_seconds_count", http_route="/checkout"
        ) == 1
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

# Loaded by pytest in every session (pytest11 entry point): the runtime is imported only when a
# fixture is used, so the plugin costs nothing to test suites that do not use it.
if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler
    from prometheus_client import CollectorRegistry

__all__ = [
    "IsolatedRuntime",
    "LogRecorder",
    "MetricsReader",
    "SpanRecorder",
    "obskit_logs",
    "obskit_metrics",
    "obskit_runtime",
    "obskit_spans",
]


class SpanRecorder:
    """Finished spans (root spans always sampled; an incoming unsampled ``traceparent`` is
    respected, as in production; secrets redacted as in production)."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self._exporter = exporter

    @property
    def spans(self) -> list[ReadableSpan]:
        """The finished spans, oldest first."""
        return list(self._exporter.get_finished_spans())

    def names(self) -> list[str]:
        """The finished spans' names, oldest first."""
        return [span.name for span in self.spans]

    def clear(self) -> None:
        """Forget the spans recorded so far."""
        self._exporter.clear()


class LogRecorder:
    """Log events (structlog, stdlib and access lines) as the dicts that would be rendered."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    def clear(self) -> None:
        """Forget the events recorded so far."""
        self.events.clear()


class MetricsReader:
    """The test's own metrics registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def value(self, name: str, **labels: str) -> float | None:
        """The sample ``name`` whose labels include ``labels`` (summed over the others)."""
        total = None
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name != name:
                    continue
                if all(sample.labels.get(k) == str(v) for k, v in labels.items()):
                    total = (total or 0.0) + sample.value
        return total


class IsolatedRuntime:
    """The isolated obskit runtime behind the fixtures."""

    def __init__(self, *, sampler: Sampler | None = None, **options: Any) -> None:
        from opentelemetry import propagate
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
        from prometheus_client import CollectorRegistry

        from obskit._runtime import state as _state
        from obskit._runtime.config import resolve
        from obskit._runtime.logs.pipeline import LogPipeline
        from obskit._runtime.metrics.instruments import Metrics
        from obskit._runtime.redact import Redactor
        from obskit._runtime.tracing.setup import RedactingExporter, resource

        args: dict[str, Any] = {"service_name": "test", "metrics_port": 0, "log_format": "json"}
        # A test process is not a long-lived service: never freeze its heap (a lifespan startup
        # in a test client would), so leaks stay visible to the tests.
        args["gc_freeze"] = False
        args.update(options)
        self.config = resolve(args)
        redactor = Redactor.from_config(self.config)
        self.events: list[dict[str, Any]] = []
        pipeline = LogPipeline(self.config, redactor)
        pipeline.capture = self.events
        self.registry = CollectorRegistry()
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider(
            resource=resource(self.config),
            sampler=sampler or ParentBased(ALWAYS_ON),
            shutdown_on_exit=False,
        )
        provider.add_span_processor(
            SimpleSpanProcessor(RedactingExporter(self.exporter, redactor, None))
        )
        self.provider = provider
        self.state = _state.State(
            config=self.config,
            redactor=redactor,
            pipeline=pipeline,
            metrics=Metrics(self.config, self.registry),
            tracer=provider.get_tracer("obskit") if self.config.traces else None,
            propagator=propagate.get_global_textmap(),
            excluded=self.config.excluded_paths,
            access_log=self.config.access_log,
        )
        self._saved: tuple[Any, ...] | None = None
        self._handler: logging.Handler | None = None

    def __enter__(self) -> IsolatedRuntime:
        import structlog

        from obskit._runtime import state as _state
        from obskit._runtime.integrations import hooks as _frameworks
        from obskit._runtime.logs import bridge as _bridge
        from obskit._runtime.logs import loggers as _logs
        from obskit._runtime.logs.loggers import configure_structlog

        root = logging.getLogger()
        self._saved = (_state.STATE, _logs.PIPELINE, structlog.get_config(), root.level)
        _state.STATE = self.state
        configure_structlog(self.state.pipeline)
        if not any(isinstance(h, _bridge.BridgeHandler) for h in root.handlers):
            self._handler = _bridge.BridgeHandler(self.state.pipeline)
            root.addHandler(self._handler)
        root.setLevel(self.state.pipeline.level)
        _frameworks.install()
        return self

    def __exit__(self, *exc: object) -> None:
        import structlog

        from obskit._runtime import state as _state
        from obskit._runtime.logs import loggers as _logs

        assert self._saved is not None
        state, pipeline, config, level = self._saved
        _state.STATE = state
        _logs.PIPELINE = pipeline
        structlog.configure(**config)
        _logs.forget_deferred()  # loggers made before init() follow the restored pipeline
        root = logging.getLogger()
        root.setLevel(level)
        if self._handler is not None:
            root.removeHandler(self._handler)
        self.provider.shutdown()


@pytest.fixture
def obskit_runtime() -> Iterator[IsolatedRuntime]:
    """An isolated obskit runtime for this test (state restored afterwards)."""
    with IsolatedRuntime() as runtime:
        yield runtime


@pytest.fixture
def obskit_spans(obskit_runtime: IsolatedRuntime) -> SpanRecorder:
    """Spans finished during the test, in memory."""
    return SpanRecorder(obskit_runtime.exporter)


@pytest.fixture
def obskit_logs(obskit_runtime: IsolatedRuntime) -> LogRecorder:
    """Log events emitted during the test (not printed)."""
    return LogRecorder(obskit_runtime.events)


@pytest.fixture
def obskit_metrics(obskit_runtime: IsolatedRuntime) -> MetricsReader:
    """The test's isolated metrics registry."""
    return MetricsReader(obskit_runtime.registry)
