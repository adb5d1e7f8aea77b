"""The stdlib bridge: every ``logging`` record rendered as obskit's JSON line, and obskit's
bridge made the one console output (:func:`bridge_stdlib`; see :mod:`.setup` for the rest of
the application's logging set-up)."""

from __future__ import annotations

import logging
import sys
from typing import Any, Final

from obskit._runtime.logs import loggers as _loggers
from obskit._runtime.logs.bindings import _get_contextvars
from obskit._runtime.logs.output import write
from obskit._runtime.logs.pipeline import _LEVEL_NAMES, LogPipeline
from obskit._runtime.logs.render import (
    PIPE_LINE_MAX_BYTES,
    keep_user_fields,
)
from obskit._runtime.redact import Redactor

__all__ = [
    "OWN_HANDLING",
    "SERVER_LOGGERS",
    "SILENCED_LOGGERS",
    "BridgeHandler",
    "LogHandler",
    "bridge_stdlib",
    "describe",
    "is_console",
]

#: LogRecord attributes that are not user ``extra`` keys (uvicorn adds ``color_message``, the
#: message with terminal colour codes: never wanted in JSON).
_RECORD_KEYS: Final = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",
}
#: Their plain access lines are replaced by obskit's JSON access line.
SILENCED_LOGGERS: Final = ("uvicorn.access", "gunicorn.access")
#: Loggers that servers configure with their own handlers: routed to the root handler instead.
SERVER_LOGGERS: Final = ("uvicorn", "uvicorn.error", "gunicorn", "gunicorn.error")

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


class BridgeHandler(logging.Handler):
    """Renders stdlib records through obskit's pipeline (installed on the root logger)."""

    def __init__(self, pipeline: LogPipeline) -> None:
        super().__init__()
        self.pipeline = pipeline

    def emit(self, record: logging.LogRecord) -> None:
        """Never raises and never hands the record to ``handleError`` (whose plain-text
        "--- Logging error ---" block is not a JSON line): the pipeline writes a line whatever
        the record carries."""
        pipeline = _loggers.PIPELINE or self.pipeline
        level = "error"
        message: Any = ""
        try:
            level = record.levelname.lower()
            level = _LEVEL_NAMES.get(level, level)
            event: dict[str, Any] = _get_contextvars()
            for key, value in record.__dict__.items():
                if key not in _RECORD_KEYS and not key.startswith("_"):
                    event[key] = value
            if "event" in event:  # an ``extra={"event": …}`` must not replace the message
                keep_user_fields(event)  # (the other own fields are kept by ``build``)
            try:
                event["event"] = message = record.getMessage()
            except Exception:  # ``log.info("%d items", "x")``: the template and its arguments
                event["event"] = message = str(record.msg)
                event["args"] = record.args
            if record.exc_info and record.exc_info[1] is not None:
                event["exc_info"] = record.exc_info[1]
            pipeline.emit(level, record.name, event)
        except Exception as exc:  # a bug of ours: still one line
            write(pipeline.fallback(level, str(record.name), {"event": message}, exc))


class LogHandler(BridgeHandler):
    """A stdlib handler rendering obskit's JSON lines, for processes that never call ``init()``.

    For ``logging.config`` files, e.g. uvicorn's supervisor with ``--workers N``:
    ``"handlers": {"obskit": {"class": "obskit.LogHandler"}}``.  Options come from the
    environment (``OBSKIT_*``/``OTEL_*``); once ``init()`` runs, its pipeline is used.
    """

    def __init__(self, level: int = logging.NOTSET) -> None:
        from obskit._runtime.config import resolve

        config = resolve({"metrics_port": 0}, problems=[])  # bad variables: see init()
        # A supervisor's lines share stdout with its workers': the multi-worker cap.
        pipeline = LogPipeline(config, Redactor.from_config(config), PIPE_LINE_MAX_BYTES)
        super().__init__(pipeline)
        self.setLevel(level)


def bridge_stdlib(pipeline: LogPipeline, *, root_reported: bool = False) -> BridgeHandler:
    """Make obskit's bridge the root logger's handler and the one console output.

    The root logger's console handlers (``basicConfig``) and earlier bridges are replaced;
    its other handlers (files, syslog, Sentry …) stay.  Every other logger's console handlers
    are removed too (they would print each line a second time, as plain text), and one JSON
    warning names them — the root's as well when ``root_reported`` (logging reconfigured after
    ``init()``).  Server loggers are routed to the root handler silently.
    """
    root = logging.getLogger()
    replaced: list[str] = []
    for handler in list(root.handlers):
        if isinstance(handler, BridgeHandler):
            root.removeHandler(handler)
        elif is_console(handler):
            root.removeHandler(handler)
            if root_reported:
                replaced.append(describe("root", handler))
    handler = BridgeHandler(pipeline)
    root.addHandler(handler)
    root.setLevel(pipeline.level)
    quiet = (*SERVER_LOGGERS, *SILENCED_LOGGERS)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger) or not logger.handlers or name in quiet:
            continue
        if name.split(".", 1)[0] in OWN_HANDLING:
            continue
        for h in list(logger.handlers):
            if is_console(h):
                logger.removeHandler(h)
                replaced.append(describe(name, h))
        if not logger.handlers and not logger.propagate:
            logger.propagate = True  # its lines still come out: through the bridge, as JSON
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        for h in list(logger.handlers):
            logger.removeHandler(h)
        logger.propagate = True
    for name in SILENCED_LOGGERS:
        logger = logging.getLogger(name)
        for h in list(logger.handlers):
            logger.removeHandler(h)
        logger.propagate = False
        logger.disabled = True
    if replaced:
        own = logging.getLogger("obskit")
        own.disabled = False  # ``disable_existing_loggers`` must not silence obskit's warning
        own.warning(
            "plain-text console handlers replaced by obskit's JSON lines",
            extra={"replaced": replaced},
        )
    return handler
