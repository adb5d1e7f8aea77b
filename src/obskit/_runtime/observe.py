"""``obskit.observe``: RED metric, span and error log for any named operation.

One object works as a decorator (sync and async functions) and as a context manager (``with`` and
``async with``), so jobs and queue consumers get the same SLO signals as HTTP routes.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from time import perf_counter
from types import TracebackType
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace

from obskit import conventions as c
from obskit._runtime import state as _state

__all__ = ["Observation", "observe"]

F = TypeVar("F", bound=Callable[..., Any])


class Observation:
    """A named operation; see :func:`observe`."""

    def __init__(self, name: str, attributes: dict[str, Any]) -> None:
        self.name = name
        self.attributes = attributes
        # Per task/thread: one Observation object may be entered concurrently (a module-level
        # ``job = observe("job")`` used by many tasks) without mixing up their timings.
        self._stack: contextvars.ContextVar[tuple[tuple[float, Any, Any], ...]] = (
            contextvars.ContextVar(f"obskit_observe_{name}", default=())
        )

    # -- context manager -----------------------------------------------------------------------

    def __enter__(self) -> Observation:
        if not self.name:
            raise TypeError("obskit.observe() needs an operation name when used with `with`")
        self._stack.set((*self._stack.get(), self._start()))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = self._stack.get()
        self._stack.set(stack[:-1])
        self._finish(stack[-1], exc)

    async def __aenter__(self) -> Observation:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- decorator -----------------------------------------------------------------------------

    def __call__(self, func: F) -> F:
        if not self.name:
            return Observation(func.__qualname__, self.attributes)(func)
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                started = self._start()
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    self._finish(started, exc)
                    raise
                self._finish(started, None)
                return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = self._start()
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                self._finish(started, exc)
                raise
            self._finish(started, None)
            return result

        return wrapper  # type: ignore[return-value]

    # -- the work ------------------------------------------------------------------------------

    def _start(self) -> tuple[float, Any, Any]:
        st = _state.STATE
        span = token = None
        if st is not None and st.tracer is not None:
            span = st.tracer.start_span(self.name, attributes=self.attributes or None)
            token = otel_context.attach(trace.set_span_in_context(span))
        return perf_counter(), span, token

    def _finish(self, started: tuple[float, Any, Any], exc: BaseException | None) -> None:
        start, span, token = started
        seconds = perf_counter() - start
        st = _state.STATE
        outcome = c.OUTCOME_OK if exc is None else c.OUTCOME_ERROR
        try:
            if st is None:
                return
            trace_id = None
            if span is not None:
                sc = span.get_span_context()
                if sc.trace_flags.sampled:
                    trace_id = format(sc.trace_id, "032x")
                if exc is not None:
                    span.record_exception(exc)
                    span.set_attribute("error.type", type(exc).__qualname__)
                    span.set_status(trace.Status(trace.StatusCode.ERROR))
            st.metrics.observe_operation(self.name, outcome, seconds, trace_id)
            if exc is not None and st.pipeline.level <= 40:
                st.pipeline.emit(
                    "error",
                    "obskit.observe",
                    {
                        "event": "operation failed",
                        "operation": self.name,
                        "duration_ms": round(seconds * 1000.0, 3),
                        "exc_info": exc,
                    },
                )
        finally:
            if span is not None:
                span.end()
            if token is not None:
                otel_context.detach(token)


@overload
def observe(name: F, /) -> F: ...
@overload
def observe(name: str | None = None, /, **attributes: Any) -> Observation: ...
def observe(name: Any = None, /, **attributes: Any) -> Any:
    """Observe a named operation: ``obskit_operation_duration_seconds{operation, outcome}``, a
    span named ``name``, and one ``error`` log line (with the exception) when it raises.

    Use as ``@observe("charge")``, bare ``@observe``, ``with observe("charge"):`` or
    ``async with observe("charge"):``.  Keyword arguments become span attributes.
    Exceptions are always re-raised.
    """
    if callable(name):
        return Observation(name.__qualname__, {})(name)
    return Observation("" if name is None else str(name), attributes)
