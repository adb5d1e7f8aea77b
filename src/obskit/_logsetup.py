"""The logging set-up an application already has, and log calls that raise before obskit runs.

* :func:`is_console` / :func:`describe`: which handlers would print a line a second time, as
  plain text (``_logs.bridge_stdlib`` replaces them and names them in one JSON warning);
* :func:`watch_logging_config`: ``logging.config.dictConfig``/``fileConfig`` after ``init()``
  put the bridge back instead of silently replacing it;
* :func:`guard_call_errors`: structlog's ``%`` interpolation and the stdlib's ``extra`` checks,
  which raise inside the logging call itself, made safe.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Final

from obskit import _logs
from obskit._render import USER_FIELD_PREFIX, bounded_repr

__all__ = ["OWN_HANDLING", "describe", "guard_call_errors", "is_console", "watch_logging_config"]

#: Loggers whose console handlers obskit's Django support takes out when Django builds its
#: handler (``_django``): left alone here.
OWN_HANDLING: Final = ("django",)


def is_console(handler: logging.Handler) -> bool:
    """A handler writing plain text to the process's stdout or stderr (a ``StreamHandler``
    that is not a ``FileHandler``): its lines would duplicate obskit's JSON line."""
    if not isinstance(handler, logging.StreamHandler) or isinstance(handler, logging.FileHandler):
        return False
    if type(handler).__module__.startswith("_pytest"):
        return False  # pytest's live-log handler: caplog and -o log_cli keep working
    try:
        stream = getattr(handler, "stream", None)
        if stream is None:
            return False
        if any(stream is s for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)):
            return True
        return stream.fileno() in (1, 2)
    except Exception:  # no file descriptor, or a proxy stream outside its context
        return False


def describe(logger_name: str, handler: logging.Handler) -> str:
    try:
        stream = getattr(handler, "stream", None)
        where = str(getattr(stream, "name", None) or type(stream).__name__)
    except Exception:  # a proxy stream (Flask's wsgi_errors_stream) outside its context
        where = "?"
    return f"{logger_name}: {type(handler).__qualname__}({where})"


def guard_call_errors() -> None:
    """Two ways a log call itself raises, before any handler or processor runs, made safe:

    * structlog's ``log.info("%d items", "x")`` (its ``%`` interpolation fails): the message is
      the template followed by the bounded repr of the arguments;
    * the stdlib's ``extra={"name": …}`` (a key LogRecord owns: ``KeyError``, e.g. a request
      body spread into ``extra``): such keys are kept under :data:`USER_FIELD_PREFIX`.

    Each replacement costs nothing more on a call that does not fail (the structlog function
    is replaced by one with the same first check; the stdlib's runs inside a ``try``).
    """
    from structlog import _native

    interpolate = getattr(_native, "_maybe_interpolate", None)
    if interpolate is not None and not getattr(interpolate, "_obskit", False):

        def safe_interpolate(event: Any, args: tuple[Any, ...]) -> Any:
            if not args:
                return event
            try:
                return interpolate(event, args)
            except Exception:
                return f"{event} {bounded_repr(args)}"

        safe_interpolate._obskit = True  # type: ignore[attr-defined]
        _native._maybe_interpolate = safe_interpolate
    if getattr(logging.Logger.makeRecord, "_obskit", False):
        return

    def make_record(
        self: logging.Logger,
        name: str,
        level: int,
        fn: str,
        lno: int,
        msg: object,
        args: Any,
        exc_info: Any,
        func: str | None = None,
        extra: Any = None,
        sinfo: str | None = None,
    ) -> logging.LogRecord:
        """``Logger.makeRecord`` as the stdlib writes it, except that an ``extra`` key the
        record already has is kept under the prefix instead of raising ``KeyError`` (a
        replacement, not a wrapper: no extra call per log line)."""
        record = logging.getLogRecordFactory()(
            name, level, fn, lno, msg, args, exc_info, func, sinfo
        )
        if extra is not None:
            attrs = record.__dict__
            for key in extra:
                if key in ("message", "asctime") or key in attrs:
                    attrs[USER_FIELD_PREFIX + key] = extra[key]
                else:
                    attrs[key] = extra[key]
        return record

    make_record._obskit = True  # type: ignore[attr-defined]
    logging.Logger.makeRecord = make_record  # type: ignore[method-assign]


def watch_logging_config() -> None:
    """After ``init()``, ``logging.config.dictConfig``/``fileConfig`` put obskit's bridge back
    (and say which console handlers they had installed, :func:`bridge_stdlib`)."""
    import logging.config

    configurator: Any = logging.config.DictConfigurator
    if getattr(configurator, "_obskit", False):
        return
    configure = configurator.configure

    def configure_then_bridge(self: Any) -> None:
        configure(self)
        _rebridge()

    configurator.configure = configure_then_bridge
    configurator._obskit = True
    file_config = logging.config.fileConfig

    def file_config_then_bridge(*args: Any, **kwargs: Any) -> None:
        file_config(*args, **kwargs)
        _rebridge()

    logging.config.fileConfig = file_config_then_bridge


def _rebridge() -> None:
    pipeline = _logs.PIPELINE
    # obskit.testing's isolated runtimes (capturing events) manage their own handler.
    if pipeline is None or pipeline.capture is not None:
        return
    # ``disable_existing_loggers`` must not silence obskit's own warnings.
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and (name == "obskit" or name.startswith("obskit.")):
            logger.disabled = False
    _logs.bridge_stdlib(pipeline, root_reported=True)
