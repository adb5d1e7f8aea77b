"""What a log line reads from the current context: structlog's bound values and the active
span's ids (the middleware's cached hex ids when it is the server span)."""

from __future__ import annotations

import contextvars
from typing import Any, Final

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace

from obskit._runtime import context as _context
from obskit._runtime.context import IDS_KEY, SPAN_KEY

__all__ = ["clear_contextvars", "current_ids"]

#: structlog keeps one ContextVar per bound key in this dict; reading it directly avoids copying
#: the whole context on every line (the public functions are the fallback).
_BOUND_VARS: dict[str, contextvars.ContextVar[Any]] | None = getattr(
    structlog.contextvars, "_CONTEXT_VARS", None
)
_PREFIX_LEN: Final = len(getattr(structlog.contextvars, "STRUCTLOG_KEY_PREFIX", "structlog_"))


def _get_contextvars() -> dict[str, Any]:
    """The structlog contextvars bound in this context."""
    if _BOUND_VARS is None:
        return structlog.contextvars.get_contextvars()
    if not _BOUND_VARS:
        return {}
    out = {}
    for name, var in tuple(_BOUND_VARS.items()):
        value = var.get(Ellipsis)
        if value is not Ellipsis:
            out[name[_PREFIX_LEN:]] = value
    return out


def clear_contextvars() -> None:
    """Unbind every structlog contextvar in this context (cheap when nothing is bound)."""
    if _BOUND_VARS is None:
        structlog.contextvars.clear_contextvars()
        return
    for var in tuple(_BOUND_VARS.values()):
        if var.get(Ellipsis) is not Ellipsis:
            var.set(Ellipsis)


_INVALID_SPAN: Final = trace.INVALID_SPAN
_get_current_span = trace.get_current_span
_get_current_value = otel_context.get_value


def current_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` in hex of the active span (sampled or not), or None.

    The middleware stores its server span's ids (formatted once per request) next to the span
    in the OTel Context (``obskit._runtime.context``); any other span's are formatted here."""
    cached: Any
    var = _context.CONTEXT_VAR
    if var is not None:
        values = var.get()
        if not values:
            return None
        cached = values.get(IDS_KEY)
        if cached is not None and cached[0] is values.get(SPAN_KEY):
            return cached[1]  # type: ignore[no-any-return]
    else:
        cached = _get_current_value(IDS_KEY)
        if cached is not None and cached[0] is _get_current_span():
            return cached[1]  # type: ignore[no-any-return]
    span = _get_current_span()
    if span is _INVALID_SPAN:
        return None
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
