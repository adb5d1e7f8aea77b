"""structlog wired to the pipeline: ``configure_structlog()``, ``get_logger()`` (usable before
``init()``: such loggers follow the pipeline once it exists), and the pipeline in force."""

from __future__ import annotations

import sys
import weakref
from typing import Any, Final

import structlog

from obskit._runtime.logs.output import write
from obskit._runtime.logs.pipeline import LogPipeline
from obskit._runtime.logs.wrapper import safe_bound_logger

__all__ = ["PIPELINE", "configure_structlog", "forget_deferred", "get_logger"]

#: The pipeline in force (swapped by ``obskit.testing``); the bridge handler follows it.
PIPELINE: LogPipeline | None = None


class _Sink:
    """structlog's wrapped logger: every level method writes the rendered line.

    One per logger name: the processor reads ``name`` for the ``logger`` field when the event
    does not carry one (``structlog.get_logger("payments")``).
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def msg(self, line: bytes | str) -> None:
        write(line)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


#: Sinks by logger name (bounded: names beyond the cap share an uncached sink each call).
_SINKS: dict[str, _Sink] = {}
_SINKS_MAX: Final = 4096
#: Frames skipped when looking for the module that logs (``structlog.get_logger()``, no name):
#: structlog's own modules and this one (not a user module that merely starts with "structlog").
_SKIPPED: Final = frozenset({"structlog", __name__})


def _caller_module() -> str:
    """``__name__`` of the first frame outside structlog and this module (structlog's own
    stdlib ``LoggerFactory`` names unnamed loggers the same way)."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str):
            return "root"
        if module not in _SKIPPED and not module.startswith("structlog."):
            return module or "root"
        frame = frame.f_back  # type: ignore[assignment]
    return "root"


def _logger_factory(*args: Any) -> _Sink:
    """structlog's ``logger_factory``: ``get_logger(name)`` passes ``name`` here; without one,
    the module that makes the logging call."""
    name = args[0] if args else None
    if name is None:
        name = _caller_module()
    elif not isinstance(name, str):
        name = str(name)
    sink = _SINKS.get(name)
    if sink is None:
        sink = _Sink(name)
        if len(_SINKS) < _SINKS_MAX:
            _SINKS[name] = sink
    return sink


def configure_structlog(pipeline: LogPipeline) -> None:
    """Point structlog and the stdlib bridge at ``pipeline`` (``init()``, ``obskit.testing``)."""
    global PIPELINE
    PIPELINE = pipeline
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, pipeline.process],
        # structlog's filtering logger, subclassed so a bad ``%`` argument never raises
        wrapper_class=safe_bound_logger(pipeline.level),
        logger_factory=_logger_factory,
        cache_logger_on_first_use=False,
    )
    forget_deferred()


def get_logger(name: str | None = None) -> Any:
    """A structlog logger whose lines carry ``logger=name`` (default: the caller's module).

    After ``init()`` a bound logger; before it (a module-level ``log = obskit.get_logger()``
    imported before ``init()`` runs) a :class:`_DeferredLogger`, whose lines follow whatever
    structlog configuration is in force when they are logged — obskit's JSON once ``init()``
    has run — instead of the configuration of the moment it was created."""
    if name is None:
        name = sys._getframe(1).f_globals.get("__name__", "root")
    if PIPELINE is None:
        return _DeferredLogger(str(name), {})
    return structlog.get_logger(name).bind()


class _DeferredLogger:
    """A logger asked for before ``init()``: assembled again at each call until obskit's
    pipeline is in place; from then on each method used is kept in the instance (a plain
    attribute: no cost per call) until the pipeline changes (:func:`forget_deferred`)."""

    def __init__(self, name: str, context: dict[str, Any]) -> None:
        self._name = name
        self._context = context
        _DEFERRED.add(self)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") or attr in ("_name", "_context"):
            raise AttributeError(attr)
        value = getattr(structlog.get_logger(self._name).bind(**self._context), attr)
        if PIPELINE is not None and callable(value):
            self.__dict__[attr] = value
        return value

    def bind(self, **values: Any) -> Any:
        """A logger with ``values`` added (still deferred while ``init()`` has not run)."""
        if PIPELINE is None:
            return _DeferredLogger(self._name, {**self._context, **values})
        return structlog.get_logger(self._name).bind(**self._context, **values)

    def new(self, **values: Any) -> Any:
        """A logger with only ``values`` (still deferred while ``init()`` has not run)."""
        if PIPELINE is None:
            return _DeferredLogger(self._name, dict(values))
        return structlog.get_logger(self._name).bind(**values)


#: Every deferred logger alive, to forget their kept methods when the pipeline changes.
_DEFERRED: weakref.WeakSet[_DeferredLogger] = weakref.WeakSet()


def forget_deferred() -> None:
    """Deferred loggers assemble their methods again (the pipeline or structlog changed)."""
    for logger in list(_DEFERRED):
        kept = {k: logger.__dict__[k] for k in ("_name", "_context")}
        logger.__dict__.clear()
        logger.__dict__.update(kept)
