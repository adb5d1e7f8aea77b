"""The guarded propagator: rejected headers counted per request, one warning per kind per minute,
no header value in any record, and the propagators' loggers untouched outside obskit's extract."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from obskit import _propagation

_SECRET = "s3cret-in-baggage"
_BAD_BAGGAGE = f"token={_SECRET}," + "x" * 9000


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(_propagation, "monotonic", fake)
    return fake


def _guarded(counted: list[str]) -> _propagation.GuardedPropagator:
    inner = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    return _propagation.GuardedPropagator(inner, counted.append)


def test_one_warning_per_kind_per_minute_and_every_rejection_counted(
    clock: _Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """30 bad baggage headers within a minute: 30 counted, one warning; a minute later, one
    more warning. No record anywhere carries the header's value."""
    counted: list[str] = []
    guard = _guarded(counted)
    with caplog.at_level(logging.DEBUG):
        for _ in range(30):
            guard.extract({"baggage": _BAD_BAGGAGE})
            clock.now += 1.0
        clock.now += _propagation.WARN_INTERVAL_S
        guard.extract({"baggage": _BAD_BAGGAGE})
    assert counted == ["baggage"] * 31
    warnings = [r for r in caplog.records if r.name == "obskit.propagation"]
    assert len(warnings) == 2
    assert warnings[0].__dict__["header"] == "baggage"
    assert all(_SECRET not in r.getMessage() for r in caplog.records)
    assert all(_SECRET not in str(r.__dict__) for r in caplog.records)
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry")]


def test_a_request_counts_once_per_kind_however_many_records(clock: _Clock) -> None:
    """A baggage with several malformed members makes the propagator log once per member; the
    request is still one rejected baggage header."""
    counted: list[str] = []
    _guarded(counted).extract({"baggage": "a b,c d,e f"})
    assert counted == ["baggage"]


def test_outside_the_guard_the_propagators_loggers_are_unchanged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A user's own extract (not through obskit's middleware) logs as the SDK always did."""
    _guarded([])
    with caplog.at_level(logging.WARNING):
        W3CBaggagePropagator().extract({"baggage": "a b"})
    assert [r.name for r in caplog.records] == ["opentelemetry.baggage.propagation"]
