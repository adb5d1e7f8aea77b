"""Structured logs: one structlog pipeline, the stdlib bridged into it, JSON lines on stdout.

The processor chain is deliberately short — ``merge_contextvars`` and one obskit processor that
adds the fixed fields, the active span's ids, redaction and exception formatting, then renders
with orjson — because every extra processor is a Python call on every log line.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
import traceback
from collections.abc import MutableMapping
from typing import Any, Final

import orjson
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace

from obskit._config import Config
from obskit._context import CONTEXT_VAR, IDS_KEY, SPAN_KEY
from obskit._redact import Redactor

__all__ = [
    "LogPipeline",
    "bridge_stdlib",
    "clear_contextvars",
    "current_ids",
    "get_logger",
]

_LEVEL_NAMES: Final = {
    "debug": "debug",
    "info": "info",
    "warning": "warning",
    "warn": "warning",
    "error": "error",
    "exception": "error",
    "critical": "critical",
    "fatal": "critical",
    "msg": "info",
}

_time_ns = time.time_ns
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
    in the OTel Context (``obskit._context``); any other span's are formatted here."""
    cached: Any
    if CONTEXT_VAR is not None:
        values = CONTEXT_VAR.get()
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


class _Clock:
    """UTC ISO-8601 timestamps; the date-time part is formatted once per second.

    The second and its two renderings are one tuple, replaced in one assignment: a thread never
    pairs one second's prefix with another's check (request threads share the pipeline).
    """

    __slots__ = ("_cached",)

    def __init__(self) -> None:
        #: ``(second, "<date-time>.", b'{"timestamp":"<date-time>.')``
        self._cached: tuple[int, str, bytes] = (-1, "", b"")

    def _refresh(self, second: int) -> tuple[int, str, bytes]:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
        self._cached = cached = (second, prefix, b'{"timestamp":"' + prefix.encode())
        return cached

    def now(self) -> str:
        ns = _time_ns()
        cached = self._cached
        if ns // 1_000_000_000 != cached[0]:
            cached = self._refresh(ns // 1_000_000_000)
        return cached[1] + "%06dZ" % (ns // 1000 % 1_000_000)  # noqa: UP031 - fastest

    def line_start(self) -> tuple[bytes, int]:
        """``{"timestamp":"<date-time>.`` and the microseconds, for a line rendered by hand."""
        ns = _time_ns()
        cached = self._cached
        if ns // 1_000_000_000 != cached[0]:
            cached = self._refresh(ns // 1_000_000_000)
        return cached[2], ns // 1000 % 1_000_000


def format_exception(exc_info: Any) -> dict[str, str] | None:
    """``{"type", "message", "traceback"}`` for ``exc_info`` (True, an exception or a tuple)."""
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc: BaseException | None = exc_info
    elif isinstance(exc_info, tuple) and len(exc_info) == 3:
        exc = exc_info[1]
    else:
        exc = None
    if exc is None:
        return None
    return {
        "type": type(exc).__qualname__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }


class LogPipeline:
    """Enrich, redact, render and write one event; shared by structlog and the stdlib bridge."""

    def __init__(self, config: Config, redactor: Redactor) -> None:
        self.level = logging.getLevelNamesMapping()[config.log_level]
        self.console = config.log_format == "console"
        self._static: dict[str, str] = {"service": config.service_name}
        if config.service_version:
            self._static["service_version"] = config.service_version
        if config.environment:
            self._static["environment"] = config.environment
        self._redactor = redactor
        self._clock = _Clock()
        # The access line's fixed part after the timestamp, rendered once.
        static = orjson.dumps(self._static)[1:-1]
        self._access_head = b'","level":"info","logger":"obskit.access","event":"request",' + (
            static + b"," if static else b""
        )
        self._reserved = frozenset({"timestamp", "level", "logger", "event", *self._static})
        #: When a list, events are appended to it instead of being written (obskit.testing).
        self.capture: list[dict[str, Any]] | None = None
        self._console_renderer: Any = None
        if self.console:
            self._console_renderer = structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())

    def build(self, level: str, logger: str, event: dict[str, Any]) -> dict[str, Any]:
        """The final event: fixed fields first, then ids, then the caller's keys, redacted."""
        out: dict[str, Any] = {
            "timestamp": self._clock.now(),
            "level": level,
            "logger": logger,
            "event": event.pop("event", ""),
        }
        out.update(self._static)
        ids = current_ids()
        exc_info = event.pop("exc_info", None)
        if ids is None and exc_info is not None:
            # An exception logged by the server after the request's context was left.
            exc = exc_info if isinstance(exc_info, BaseException) else None
            ids = getattr(exc, "__obskit_ids__", None)
        if ids is not None:
            out["trace_id"], out["span_id"] = ids
        if event:
            out.update(self._redactor.redact_event(event))
        if exc_info:
            formatted = format_exception(exc_info)
            if formatted is not None:
                out["exception"] = formatted
        if self._redactor.patterns:  # the user's value patterns also see the free text
            self._redactor.scrub_free_text(out)
        return out

    def render(self, out: dict[str, Any]) -> bytes | str | None:
        """JSON bytes with a newline (or console text); None when captured for tests."""
        if self.capture is not None:
            self.capture.append(out)
            return None
        if self.console:
            exc = out.pop("exception", None)
            text: str = self._console_renderer(None, out["level"], dict(out))
            if exc is not None:
                text += "\n" + exc["traceback"]
            return text
        return orjson.dumps(
            out, default=repr, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
        )

    def process(self, _logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        """The structlog processor (last in the chain)."""
        logger = event.pop("logger", None) or getattr(_logger, "name", None) or "root"
        out = self.build(_LEVEL_NAMES.get(method, method), str(logger), dict(event))
        rendered = self.render(out)
        if rendered is None:
            raise structlog.DropEvent
        return rendered

    def access_request(
        self,
        method: str,
        route: str,
        path: str,
        status: int,
        seconds: float,
        client: str | None,
        trace_id: str | None,
        span_id: str | None,
    ) -> None:
        """The access line of one request (``access`` with these fields, byte for byte the
        same line): the usual case — nothing bound, JSON to stdout — is rendered with one
        ``orjson.dumps`` of one dict after the pre-rendered fixed part."""
        duration_ms = round(seconds * 1000.0, 3)
        # Something bound in this context (structlog keeps a var per key ever bound: look).
        bound = (_BOUND_VARS is None or bool(_BOUND_VARS)) and bool(_get_contextvars())
        if self.capture is not None or self.console or bound:
            self.access(
                {
                    "method": method,
                    "route": route,
                    "path": path,
                    "status": status,
                    "duration_ms": duration_ms,
                    "client_addr": client,
                },
                trace_id,
                span_id,
            )
            return
        if trace_id is not None:
            tail: dict[str, Any] = {
                "trace_id": trace_id,
                "span_id": span_id,
                "method": method,
                "route": route,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "client_addr": client,
            }
        else:
            tail = {
                "method": method,
                "route": route,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "client_addr": client,
            }
        body = _dumps(tail, option=_LINE_OPTIONS)  # only str/int/float/None values
        start, micros = self._clock.line_start()
        write(b"%s%06dZ%s%s" % (start, micros, self._access_head, body[1:]))

    def access(self, fields: dict[str, Any], trace_id: str | None, span_id: str | None) -> None:
        """Write the access line: obskit's fields (no redaction pass needed) after the request's
        bound contextvars (redacted; obskit's fields win on a name clash)."""
        bound = _get_contextvars()
        if bound:
            bound = self._redactor.redact_event(bound)
        if self.capture is None and not self.console and self._reserved.isdisjoint(bound):
            # Hot path: the fixed part of the line is pre-rendered; only the rest is encoded.
            tail: dict[str, Any] = {}
            if trace_id is not None:
                tail["trace_id"] = trace_id
                tail["span_id"] = span_id
            if bound:
                tail.update(bound)
            tail.update(fields)
            body = orjson.dumps(
                tail, default=repr, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
            )
            write(b'{"timestamp":"' + self._clock.now().encode() + self._access_head + body[1:])
            return
        out: dict[str, Any] = {
            "timestamp": self._clock.now(),
            "level": "info",
            "logger": "obskit.access",
            "event": "request",
        }
        out.update(self._static)
        if trace_id is not None:
            out["trace_id"] = trace_id
            out["span_id"] = span_id
        if bound:
            out.update(bound)
        out.update(fields)
        rendered = self.render(out)
        if rendered is not None:
            write(rendered)

    def emit(self, level: str, logger: str, event: dict[str, Any]) -> None:
        """Build, render and write one event (the stdlib bridge's entry point)."""
        rendered = self.render(self.build(level, logger, event))
        if rendered is not None:
            write(rendered)


_dumps = orjson.dumps
_LINE_OPTIONS: Final = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def write(line: bytes | str) -> None:
    """Write one rendered line to the *current* ``sys.stdout`` and flush it."""
    out = sys.stdout
    try:
        if isinstance(line, bytes):
            buffer = getattr(out, "buffer", None)
            if buffer is not None:
                out.flush()  # keep ordering with text written through sys.stdout
                buffer.write(line)
                buffer.flush()
                return
            line = line.decode()
        else:
            line += "\n"
        out.write(line)
        out.flush()
    except (ValueError, OSError):  # stdout closed at interpreter exit: nothing sensible to do
        pass


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
        wrapper_class=structlog.make_filtering_bound_logger(pipeline.level),
        logger_factory=_logger_factory,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    """A structlog logger whose lines carry ``logger=name`` (default: the caller's module)."""
    if name is None:
        name = sys._getframe(1).f_globals.get("__name__", "root")
    return structlog.get_logger().bind(logger=name)


# --------------------------------------------------------------------------------------------
# The stdlib bridge
# --------------------------------------------------------------------------------------------

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


#: The pipeline in force (swapped by ``obskit.testing``); the bridge handler follows it.
PIPELINE: LogPipeline | None = None


class BridgeHandler(logging.Handler):
    """Renders stdlib records through obskit's pipeline (installed on the root logger)."""

    def __init__(self, pipeline: LogPipeline) -> None:
        super().__init__()
        self.pipeline = pipeline

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event: dict[str, Any] = {"event": record.getMessage()}
            bound = _get_contextvars()
            if bound:
                event.update(bound)
            for key, value in record.__dict__.items():
                if key not in _RECORD_KEYS and not key.startswith("_"):
                    event[key] = value
            exc: BaseException | None = None
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
            if exc is not None:
                event["exc_info"] = exc
            level = record.levelname.lower()
            (PIPELINE or self.pipeline).emit(_LEVEL_NAMES.get(level, level), record.name, event)
        except Exception:
            self.handleError(record)


class LogHandler(BridgeHandler):
    """A stdlib handler rendering obskit's JSON lines, for processes that never call ``init()``.

    For ``logging.config`` files, e.g. uvicorn's supervisor with ``--workers N``:
    ``"handlers": {"obskit": {"class": "obskit.LogHandler"}}``.  Options come from the
    environment (``OBSKIT_*``/``OTEL_*``); once ``init()`` runs, its pipeline is used.
    """

    def __init__(self, level: int = logging.NOTSET) -> None:
        from obskit._config import resolve
        from obskit._redact import Redactor

        config = resolve({"metrics_port": 0})
        super().__init__(LogPipeline(config, Redactor.from_config(config)))
        self.setLevel(level)


def bridge_stdlib(pipeline: LogPipeline) -> BridgeHandler:
    """Make the root logger's only handler obskit's bridge; route server loggers to it."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        # pytest's capture handlers stay (caplog keeps working in users' tests).
        if not type(handler).__module__.startswith("_pytest"):
            root.removeHandler(handler)
    handler = BridgeHandler(pipeline)
    root.addHandler(handler)
    root.setLevel(pipeline.level)
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
    return handler
