"""W3C trace-context helpers: build an incoming ``traceparent`` whose ids the test knows."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

__all__ = ["TraceParent", "is_hex_id", "new_traceparent"]


@dataclass(frozen=True)
class TraceParent:
    """A ``traceparent`` header value and the ids in it (lower-case hex)."""

    header: str
    trace_id: str
    parent_span_id: str
    sampled: bool


def new_traceparent(*, sampled: bool = True) -> TraceParent:
    """A fresh random ``traceparent`` (version 00), sampled or not."""
    trace_id = secrets.token_hex(16)
    span_id = secrets.token_hex(8)
    flags = "01" if sampled else "00"
    return TraceParent(f"00-{trace_id}-{span_id}-{flags}", trace_id, span_id, sampled)


def is_hex_id(value: object, length: int) -> bool:
    """Whether ``value`` is a non-zero lower-case hex id of ``length`` characters."""
    return (
        isinstance(value, str)
        and len(value) == length
        and all(c in "0123456789abcdef" for c in value)
        and value.strip("0") != ""
    )
