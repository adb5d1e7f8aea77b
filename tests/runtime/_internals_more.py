"""More breaks for ``test_internals.py``: ``_internals_service.py`` with these added to its
``BREAKS`` (run as a script, it serves the same request; imported, it only adds them).

Besides :mod:`_hide`'s "gone for obskit" (an attribute obskit's code can no longer reach), an
upstream release can *rename* a private field silently: the dependency's own code then reads and
writes the new name, while obskit's writes of the old name succeed — into an attribute nobody
reads — and its reads find only what it wrote itself.  :func:`rename` reproduces exactly that,
for the SDK span fields obskit's server span sets and the OTLP writer reads, and
:func:`rename_method` for the SDK methods obskit's span overrides (``_add_event``/``_add_link``:
after a rename the SDK calls its own method under the new name and obskit's override is dead).
:func:`retype` keeps a value but gives obskit a different type (a limit that became a string).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import _hide
import _internals_service
from _internals_service import BREAKS, _hide_attr

_MISSING = object()


class Renamed:
    """``owner.old``, renamed ``new`` upstream: code outside obskit uses ``new``; obskit's code
    uses ``old``, a plain attribute of its own (``default``: the class-level value obskit's own
    subclass gives it, seen by obskit only)."""

    def __init__(self, old: str, new: str, default: Any = _MISSING) -> None:
        self.old = old
        self.new = new
        self.default = default

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        key = self.old if _hide._from_obskit() else self.new
        try:
            return obj.__dict__[key]
        except KeyError:
            if key == self.old and self.default is not _MISSING:
                return self.default
            raise AttributeError(
                f"{type(obj).__name__!r} object has no attribute {key!r}"
            ) from None

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.old if _hide._from_obskit() else self.new] = value

    def __delete__(self, obj: Any) -> None:
        del obj.__dict__[self.old if _hide._from_obskit() else self.new]


def _server_span() -> type:
    from obskit._runtime.tracing.span import ServerSpan

    return ServerSpan


def rename(module: str, owner: str, old: str) -> Callable[[], None]:
    """``owner.old`` renamed ``old + "_v2"`` in ``module`` (and in obskit's ``ServerSpan``,
    which may give it a class-level default)."""

    def apply() -> None:
        __import__(module)
        setattr(getattr(sys.modules[module], owner), old, Renamed(old, old + "_v2"))
        server = _server_span()
        if old in server.__dict__:
            setattr(server, old, Renamed(old, old + "_v2", server.__dict__[old]))

    return apply


class _RenamedMethod:
    """The method ``old`` of a class, renamed ``new`` upstream: code outside obskit calls
    ``new`` (upstream's implementation, never an override of ``old``); obskit gets ``old``."""

    def __init__(self, original: Any, new: str) -> None:
        self.original = original
        self.new = new

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if _hide._from_obskit():
            return self.original.__get__(obj, owner)
        return getattr(obj, self.new)


def rename_method(old: str) -> Callable[[], None]:
    """``opentelemetry.sdk.trace.Span.old`` renamed ``old + "_v2"`` upstream."""

    def apply() -> None:
        from opentelemetry.sdk import trace as sdk

        new = old + "_v2"
        setattr(sdk.Span, new, sdk.Span.__dict__[old])
        for cls in (sdk.Span, _server_span()):
            setattr(cls, old, _RenamedMethod(cls.__dict__[old], new))

    return apply


class _Retyped:
    """``owner.name`` as ``convert(value)`` for obskit's code, the value for everyone else."""

    def __init__(self, name: str, convert: Callable[[Any], Any]) -> None:
        self.name = name
        self.convert = convert

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name]
        return self.convert(value) if _hide._from_obskit() else value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value


def retype(module: str, owner: str, name: str, convert: Callable[[Any], Any]) -> Callable[[], None]:
    def apply() -> None:
        __import__(module)
        setattr(getattr(sys.modules[module], owner), name, _Retyped(name, convert))

    return apply


def _span_class_renamed() -> None:
    # The SDK's private concrete span class under another name: the writer's attribute fast
    # path for it is found by ``getattr`` (none: those spans take the public properties).
    from opentelemetry.sdk import trace as sdk

    _hide.hide_module_attribute(sdk, "_Span")


_SDK = "opentelemetry.sdk.trace"
_SHARED = "opentelemetry.sdk._shared_internal"
_HTTP = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
MORE: dict[str, Callable[[], None]] = {
    "BatchProcessor._max_queue_size": _hide_attr(_SHARED, "BatchProcessor", "_max_queue_size"),
    "BatchProcessor._max_queue_size not an int": retype(
        _SHARED, "BatchProcessor", "_max_queue_size", str
    ),
    "BatchProcessor._max_export_batch_size": _hide_attr(
        _SHARED, "BatchProcessor", "_max_export_batch_size"
    ),
    "BatchProcessor.emit": _hide_attr(_SHARED, "BatchProcessor", "emit"),
    "OTLPSpanExporter._shutdown": _hide_attr(_HTTP, "OTLPSpanExporter", "_shutdown"),
    "OTLPSpanExporter._max_request_size": _hide_attr(
        _HTTP, "OTLPSpanExporter", "_max_request_size"
    ),
    "OTLPSpanExporter._max_request_size not an int": retype(
        _HTTP, "OTLPSpanExporter", "_max_request_size", lambda value: None
    ),
    "sdk.trace._Span renamed": _span_class_renamed,
    "ReadableSpan._name renamed": rename(_SDK, "ReadableSpan", "_name"),
    "ReadableSpan._context renamed": rename(_SDK, "ReadableSpan", "_context"),
    "ReadableSpan._parent renamed": rename(_SDK, "ReadableSpan", "_parent"),
    "ReadableSpan._kind renamed": rename(_SDK, "ReadableSpan", "_kind"),
    "ReadableSpan._links renamed": rename(_SDK, "ReadableSpan", "_links"),
    "ReadableSpan._status renamed": rename(_SDK, "ReadableSpan", "_status"),
    "ReadableSpan._resource renamed": rename(_SDK, "ReadableSpan", "_resource"),
    "ReadableSpan._start_time renamed": rename(_SDK, "ReadableSpan", "_start_time"),
    "ReadableSpan._end_time renamed": rename(_SDK, "ReadableSpan", "_end_time"),
    "ReadableSpan._instrumentation_info renamed": rename(
        _SDK, "ReadableSpan", "_instrumentation_info"
    ),
    "ReadableSpan._instrumentation_scope renamed": rename(
        _SDK, "ReadableSpan", "_instrumentation_scope"
    ),
    "Span._limits renamed": rename(_SDK, "Span", "_limits"),
    "Span._lock renamed": rename(_SDK, "Span", "_lock"),
    "Span._add_event renamed": rename_method("_add_event"),
    "Span._add_link renamed": rename_method("_add_link"),
}
BREAKS.update(MORE)


if __name__ == "__main__":
    os.environ.setdefault("OBSKIT_TEST_BREAK", "nothing")
    _internals_service.main()
