"""structlog's filtering bound logger, with a log call that never raises on its ``%`` arguments.

``log.info("%d items", "x")`` makes structlog's own bound logger raise ``TypeError`` in the
caller (it interpolates before any processor runs).  obskit used to replace structlog's private
``_native._maybe_interpolate`` to stop that; this module does it through structlog's supported
extension point instead — a ``wrapper_class`` (structlog docs, "Custom wrappers"): a subclass of
``structlog.make_filtering_bound_logger(level)`` whose level methods interpolate the arguments
themselves (same rules as structlog) and hand the finished message to the parent's public
method with no positional arguments, so structlog never interpolates.  A failed interpolation
logs the template followed by the bounded repr of the arguments.

Cost: one extra Python call per enabled log call (``benchmarks/bench_internals.py``,
``log_call_us_*``); levels below the minimum stay structlog's own no-ops (nothing is formatted).
"""

from __future__ import annotations

import collections.abc
import logging
from collections.abc import Callable
from typing import Any, Final

import structlog

from obskit._runtime.logs.render import bounded_repr

__all__ = ["interpolate", "safe_bound_logger"]

_LEVELS: Final = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}
#: structlog's aliases of a level method (they must not keep pointing at the parent's method).
_ALIASES: Final = {"warn": "warning", "fatal": "critical", "msg": "info"}


def interpolate(event: Any, args: tuple[Any, ...]) -> Any:
    """``event % args`` as structlog does it (one non-empty mapping: by name), or, when that
    raises, the template followed by the bounded repr of the arguments."""
    try:
        if len(args) == 1 and isinstance(args[0], collections.abc.Mapping) and args[0]:
            return event % args[0]
        return event % args
    except Exception:
        return f"{event} {bounded_repr(args)}"


def _sync(parent: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: Any, event: Any = None, *args: Any, **kw: Any) -> Any:
        if args:
            event = interpolate(event, args)
        return parent(self, event, **kw)

    return method


def _async(parent: Callable[..., Any]) -> Callable[..., Any]:
    async def method(self: Any, event: Any = None, *args: Any, **kw: Any) -> Any:
        if args:
            event = interpolate(event, args)
        return await parent(self, event, **kw)

    return method


def _log(parent: Callable[..., Any], min_level: int) -> Callable[..., Any]:
    def log(self: Any, level: int, event: Any = None, *args: Any, **kw: Any) -> Any:
        if args and level >= min_level:  # a filtered-out call formats nothing
            event = interpolate(event, args)
        return parent(self, level, event, **kw)

    return log


def _alog(parent: Callable[..., Any], min_level: int) -> Callable[..., Any]:
    async def alog(self: Any, level: int, event: Any = None, *args: Any, **kw: Any) -> Any:
        if args and level >= min_level:
            event = interpolate(event, args)
        return await parent(self, level, event, **kw)

    return alog


_CLASSES: dict[int, type] = {}


def safe_bound_logger(min_level: int) -> type:
    """structlog's ``make_filtering_bound_logger(min_level)``, subclassed so that no enabled
    log call raises on its ``%`` arguments (one class per level, made once)."""
    cls = _CLASSES.get(min_level)
    if cls is not None:
        return cls
    base: Any = structlog.make_filtering_bound_logger(min_level)
    namespace: dict[str, Any] = {"__module__": __name__, "__slots__": ()}
    for level, name in _LEVELS.items():
        if level < min_level:
            continue  # the parent's no-op: nothing is interpolated for a filtered-out level
        namespace[name] = _sync(getattr(base, name))
        namespace["a" + name] = _async(getattr(base, "a" + name))
    for alias, name in _ALIASES.items():
        if name in namespace:
            namespace[alias] = namespace[name]
            namespace["a" + alias] = namespace["a" + name]
    namespace["log"] = _log(base.log, min_level)
    namespace["alog"] = _alog(base.alog, min_level)
    label = _LEVELS.get(min_level, str(min_level)).capitalize()
    cls = type(f"ObskitBoundLoggerAt{label}", (base,), namespace)
    _CLASSES[min_level] = cls
    return cls
