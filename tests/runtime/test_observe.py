"""obskit.observe: decorator and context manager, sync and async, success and failure."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import StatusCode

import obskit
from obskit import conventions as c
from obskit.testing import IsolatedRuntime, MetricsReader

COUNT = c.OPERATION_DURATION_COUNT


def ops(rt: IsolatedRuntime, operation: str, outcome: str) -> float | None:
    """Count of observed operations with these labels."""
    return MetricsReader(rt.registry).value(COUNT, operation=operation, outcome=outcome)


def test_sync_decorator_success_and_error(rt: IsolatedRuntime) -> None:
    """A decorated function records ok/error outcomes, a span each, and one error line."""

    @obskit.observe("charge", provider="acme")
    def charge(amount: int) -> int:
        if amount < 0:
            raise ValueError("negative")
        return amount

    assert charge(3) == 3
    with pytest.raises(ValueError, match="negative"):
        charge(-1)
    assert ops(rt, "charge", c.OUTCOME_OK) == 1
    assert ops(rt, "charge", c.OUTCOME_ERROR) == 1
    ok_span, error_span = rt.exporter.get_finished_spans()
    assert ok_span.name == "charge"
    assert dict(ok_span.attributes or {})["provider"] == "acme"
    assert error_span.status.status_code is StatusCode.ERROR
    (error_line,) = [e for e in rt.events if e["level"] == "error"]
    assert error_line["event"] == "operation failed"
    assert error_line["operation"] == "charge"
    assert error_line["exception"]["type"] == "ValueError"
    assert error_line["trace_id"] == format(error_span.context.trace_id, "032x")


def test_bare_decorator_uses_qualname(rt: IsolatedRuntime) -> None:
    """@observe without arguments names the operation after the function."""

    @obskit.observe
    def nightly_job() -> str:
        return "done"

    assert nightly_job() == "done"
    assert ops(rt, nightly_job.__qualname__, c.OUTCOME_OK) == 1


def test_async_decorator_and_async_context_manager(rt: IsolatedRuntime) -> None:
    """Async functions and `async with` are observed; the duration covers the await."""

    @obskit.observe("fetch")
    async def fetch() -> int:
        await asyncio.sleep(0.02)
        return 1

    async def consume() -> None:
        async with obskit.observe("consume"):
            await asyncio.sleep(0)
        with pytest.raises(KeyError):
            async with obskit.observe("consume"):
                raise KeyError("k")

    assert asyncio.run(fetch()) == 1
    asyncio.run(consume())
    assert ops(rt, "fetch", c.OUTCOME_OK) == 1
    total = MetricsReader(rt.registry).value(c.OPERATION_DURATION + "_sum", operation="fetch")
    assert total is not None
    assert total >= 0.02
    assert ops(rt, "consume", c.OUTCOME_OK) == 1
    assert ops(rt, "consume", c.OUTCOME_ERROR) == 1


def test_sync_context_manager_nests_spans(rt: IsolatedRuntime) -> None:
    """`with observe()` makes its span current: a nested operation is its child."""
    with obskit.observe("outer"), obskit.observe("inner"):
        obskit.get_logger("t").info("in inner")
    inner, outer = rt.exporter.get_finished_spans()
    assert inner.parent is not None
    assert inner.parent.span_id == outer.context.span_id
    line = next(e for e in rt.events if e["event"] == "in inner")
    assert line["span_id"] == format(inner.context.span_id, "016x")


def test_exemplar_on_sampled_operation(rt: IsolatedRuntime) -> None:
    """The operation histogram carries the trace-id exemplar of its (sampled) span."""
    from prometheus_client.openmetrics.exposition import generate_latest

    with obskit.observe("job"):
        pass
    (span,) = rt.exporter.get_finished_spans()
    text = generate_latest(rt.registry).decode()
    assert f'# {{trace_id="{format(span.context.trace_id, "032x")}"}}' in text


def test_context_manager_needs_a_name(rt: IsolatedRuntime) -> None:
    """`with observe():` without a name is a clear TypeError."""
    with pytest.raises(TypeError, match="name"), obskit.observe():
        pass


def test_one_observation_object_shared_by_concurrent_tasks(rt: IsolatedRuntime) -> None:
    """A module-level observe() object used by overlapping tasks (exits not in LIFO order)
    times each task from its own start."""
    job = obskit.observe("shared")

    async def work(start_after: float, duration: float) -> None:
        await asyncio.sleep(start_after)
        async with job:
            await asyncio.sleep(duration)

    async def main() -> None:
        # A runs 0 → 0.06, B runs 0.05 → 0.15: A exits first although B entered last.
        await asyncio.gather(work(0.0, 0.06), work(0.05, 0.1))

    asyncio.run(main())
    assert ops(rt, "shared", c.OUTCOME_OK) == 2
    fast = MetricsReader(rt.registry).value(
        c.OPERATION_DURATION_BUCKET, operation="shared", le="0.025"
    )
    assert fast == 0  # a mixed-up start would time A from B's start: about 0.01 s
