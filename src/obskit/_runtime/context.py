"""The request's OpenTelemetry context, set and read without the API's call layers.

``opentelemetry.context.attach(trace.set_span_in_context(span))`` and ``detach`` go through five
Python calls each way; with the default runtime context (``contextvars``) the same thing is one
``ContextVar.set``/``reset`` of a new ``Context`` holding the span.  The request's hex ids are
stored in that same ``Context`` (under obskit's own key), so log lines read them without
re-formatting and without a second context variable to set and reset per request.

Any other runtime context (``OTEL_PYTHON_CONTEXT``) takes the public API's path.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.context import Context
from opentelemetry.trace.propagation import _SPAN_KEY

__all__ = ["CONTEXT_VAR", "IDS_KEY", "SPAN_KEY", "enter_span", "leave_span"]

SPAN_KEY: Final = _SPAN_KEY
#: ``(span, (trace_id_hex, span_id_hex))`` of the request's server span, in the OTel Context.
IDS_KEY: Final = otel_context.create_key("obskit-request-ids")


def _runtime_var() -> ContextVar[Context] | None:
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    if type(runtime).__name__ == "ContextVarsRuntimeContext" and isinstance(var, ContextVar):
        return var
    return None


#: The ContextVar behind OpenTelemetry's current Context, or None (another runtime context).
CONTEXT_VAR: Final = _runtime_var()


def enter_span(
    span: trace.Span, parent: Context | None, trace_hex: str, span_hex: str
) -> Token[Context]:
    """Make ``span`` current (in ``parent``, else the current context) with its hex ids;
    returns the token for :func:`leave_span`.  Same Context content as
    ``attach(set_span_in_context(span, parent))`` plus obskit's ids key."""
    ids = (span, (trace_hex, span_hex))
    var = CONTEXT_VAR
    if var is None:
        ctx = otel_context.set_value(IDS_KEY, ids, trace.set_span_in_context(span, parent))
        return otel_context.attach(ctx)
    base = var.get() if parent is None else parent
    values: dict[str, Any] = dict(base) if base else {}
    values[SPAN_KEY] = span
    values[IDS_KEY] = ids
    return var.set(Context(values))


def leave_span(token: Token[Context]) -> None:
    """Restore the Context :func:`enter_span` replaced."""
    var = CONTEXT_VAR
    if var is None:
        otel_context.detach(token)
        return
    try:
        var.reset(token)
    except ValueError:  # a token from another context: the API's path logs it, as OTel does
        otel_context.detach(token)
