"""The request's OpenTelemetry context, set and read without the API's call layers.

``opentelemetry.context.attach(trace.set_span_in_context(span))`` and ``detach`` go through five
Python calls each way; with the default runtime context (``contextvars``) the same thing is one
``ContextVar.set``/``reset`` of a new ``Context`` holding the span.  The request's hex ids are
stored in that same ``Context`` (under obskit's own key), so log lines read them without
re-formatting and without a second context variable to set and reset per request.

Any other runtime context (``OTEL_PYTHON_CONTEXT``) takes the public API's path.

Two things are not public.  The key the API stores the span under is *derived* once through the
public API (``set_span_in_context`` on an empty ``Context``, read back with
``get_current_span``), never imported by name, so a rename upstream cannot break
``import obskit``.  The ``ContextVar`` behind the API's runtime context
(``_RUNTIME_CONTEXT._current_context``) is a private internal: when it is missing, or the key
cannot be derived, :data:`CONTEXT_VAR` is None and the public API serves; ``init()``'s self-test
(``selftest.py``, "OTel context") reports it once and also checks the fast path against the API.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.context import Context

__all__ = [
    "CONTEXT_VAR",
    "IDS_KEY",
    "SPAN_KEY",
    "UNAVAILABLE",
    "enter_span",
    "leave_span",
    "use_public_api",
]

#: ``(span, (trace_id_hex, span_id_hex))`` of the request's server span, in the OTel Context.
IDS_KEY: Final = otel_context.create_key("obskit-request-ids")


def _span_key() -> str | None:
    """The key ``trace.set_span_in_context`` stores a span under, found through the public API
    (None when the API keeps it any other way: the public path then serves)."""
    try:
        probe = trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)  # a fresh object: found by id
        keys = [k for k, v in trace.set_span_in_context(probe, Context()).items() if v is probe]
        if len(keys) == 1 and trace.get_current_span(Context({keys[0]: probe})) is probe:
            return keys[0]
    except Exception:  # the public API's Context is not a plain mapping any more
        return None
    return None


def _runtime_var() -> tuple[ContextVar[Context] | None, str | None]:
    """The ContextVar behind OpenTelemetry's current Context (None: another runtime context, or
    the internal is not there), and why the fast path is off when it should have been on."""
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    if type(runtime).__name__ != "ContextVarsRuntimeContext":
        return None, None  # OTEL_PYTHON_CONTEXT chose another runtime context: by design
    try:
        var = runtime._current_context  # type: ignore[union-attr]
    except AttributeError as exc:
        return None, f"AttributeError: {exc}"
    if not isinstance(var, ContextVar):
        return None, "ContextVarsRuntimeContext._current_context is not a ContextVar"
    if _KEY is None:
        return None, "the API's span key could not be derived from set_span_in_context()"
    return var, None


_KEY: Final = _span_key()
#: The API's span key in the OTel Context ("" when not derived: :data:`CONTEXT_VAR` is None).
SPAN_KEY: Final[str] = _KEY if _KEY is not None else ""
#: The ContextVar behind OpenTelemetry's current Context, or None (the public API serves).
#: Read through this module (``_context.CONTEXT_VAR``): :func:`use_public_api` may clear it.
CONTEXT_VAR: ContextVar[Context] | None
#: Why the fast path is off although the default runtime context is in use (None: it is on, or
#: another runtime context was chosen).
UNAVAILABLE: str | None
CONTEXT_VAR, UNAVAILABLE = _runtime_var()


def use_public_api() -> None:
    """Switch the request context to the public API for the process (the self-test's
    fallback)."""
    global CONTEXT_VAR
    CONTEXT_VAR = None


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
