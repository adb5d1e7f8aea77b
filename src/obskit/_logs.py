"""Structured logs: one structlog pipeline, the stdlib bridged into it, JSON lines on stdout.

The processor chain is deliberately short — ``merge_contextvars`` and one obskit processor that
adds the fixed fields, the active span's ids, redaction and exception formatting, then renders
with orjson — because every extra processor is a Python call on every log line.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import time
import traceback
import weakref
from collections.abc import MutableMapping
from typing import Any, Final

import orjson
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace

from obskit._config import Config
from obskit._context import CONTEXT_VAR, IDS_KEY, SPAN_KEY
from obskit._redact import Redactor
from obskit._render import (
    CONVERTED_FIELD,
    ERROR_FIELD,
    LINE_MAX_BYTES,
    OWN_FIELDS,
    PIPE_LINE_MAX_BYTES,
    keep_user_fields,
    safe_text,
)
from obskit._render import dumps as render_line
from obskit._render import fit as fit_line

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

    def __init__(self, config: Config, redactor: Redactor, line_max: int = LINE_MAX_BYTES) -> None:
        #: Longest line written, newline included (``_render``: smaller in multi-worker mode).
        self.line_max = line_max
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
            if not OWN_FIELDS.isdisjoint(event):
                keep_user_fields(event)
            converted: list[str] = []
            out.update(self._redactor.redact_event(event, converted))
            if converted:  # objects, sets, cycles: rendered, and said so
                out[CONVERTED_FIELD] = converted
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
            try:
                exc = out.get("exception")
                text: str = self._console_renderer(
                    None, out["level"], {k: v for k, v in out.items() if k != "exception"}
                )
                if exc is not None:
                    text += "\n" + exc["traceback"]
                return text
            except Exception:  # a value the console renderer cannot show: the JSON line
                return render_line(out, self.line_max).decode()[:-1]
        # ``_render.dumps`` inlined (one call less per line); it takes over when this fails.
        try:
            line = _dumps(out, option=_LINE_OPTIONS)
        except Exception:
            return render_line(out, self.line_max)
        if len(line) > self.line_max:
            return fit_line(out, len(line), self.line_max)
        return line

    def fallback(self, level: str, logger: str, event: Any, exc: Exception) -> bytes | str:
        """The line written when building or rendering an event failed: obskit's fields, the
        message and what went wrong (never the event's other values: they caused it)."""
        try:
            message = event.get("event", "") if isinstance(event, MutableMapping) else ""
        except Exception:
            message = ""
        out: dict[str, Any] = {
            "timestamp": self._clock.now(),
            "level": level,
            "logger": safe_text(str(logger)),
            "event": safe_text(message) if isinstance(message, str) else "",
        }
        out.update(self._static)
        try:
            ids = current_ids()
        except Exception:
            ids = None
        if ids is not None:
            out["trace_id"], out["span_id"] = ids
        try:
            out[ERROR_FIELD] = safe_text(f"{type(exc).__qualname__}: {exc}")
        except Exception:  # str(exc) itself failed
            out[ERROR_FIELD] = type(exc).__qualname__
        try:
            line = render_line(out, self.line_max)
        except Exception:  # last resort: the fixed fields only
            line = render_line({k: out[k] for k in ("timestamp", "level")}, self.line_max)
        return line.decode()[:-1] if self.console else line

    def process(self, _logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        """The structlog processor (last in the chain); never raises (but DropEvent)."""
        level = _LEVEL_NAMES.get(method, method)
        logger = getattr(_logger, "name", None) or "root"
        try:
            rendered = self.render(self.build(level, logger, dict(event)))
        except Exception as exc:
            rendered = self.fallback(level, logger, event, exc)
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
        try:
            body = _dumps(tail, option=_LINE_OPTIONS)  # only str/int/float/None values
        except Exception:  # a lone surrogate in a path from an unusual server
            self.access(tail, None, None)
            return
        start, micros = self._clock.line_start()
        line = b"%s%06dZ%s%s" % (start, micros, self._access_head, body[1:])
        if len(line) > self.line_max:  # a very long path
            line = fit_line(orjson.loads(line), len(line), self.line_max)
        write(line)

    def access(self, fields: dict[str, Any], trace_id: str | None, span_id: str | None) -> None:
        """Write the access line: obskit's fields (no redaction pass needed) after the request's
        bound contextvars (redacted; obskit's fields win a name clash, a bound key named like
        one of obskit's own fields is kept as ``field_<name>``)."""
        bound = _get_contextvars()
        if bound:
            if not OWN_FIELDS.isdisjoint(bound):
                keep_user_fields(bound)
            bound = self._redactor.redact_event(bound)
        if self.capture is None and not self.console:
            # Hot path: the fixed part of the line is pre-rendered; only the rest is encoded.
            tail: dict[str, Any] = {}
            if trace_id is not None:
                tail["trace_id"] = trace_id
                tail["span_id"] = span_id
            if bound:
                tail.update(bound)
            tail.update(fields)
            body: bytes | None
            try:
                body = _dumps(tail, option=_LINE_OPTIONS)
            except Exception:  # a bound value orjson cannot encode: the general path below
                body = None
            if body is not None:
                line = b'{"timestamp":"' + self._clock.now().encode() + self._access_head
                line += body[1:]
                if len(line) > self.line_max:
                    line = fit_line(orjson.loads(line), len(line), self.line_max)
                write(line)
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
        """Build, render and write one event (the stdlib bridge's entry point, which writes
        :meth:`fallback`'s line should this raise)."""
        rendered = self.render(self.build(level, logger, event))
        if rendered is not None:
            write(rendered)


_dumps = orjson.dumps
_os_write = os.write
_LINE_OPTIONS: Final = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def write(line: bytes | str) -> None:
    """Write one rendered line to the *current* ``sys.stdout`` and flush it.

    A JSON line goes to stdout's file descriptor in one ``os.write`` (after flushing what was
    printed before it): never through the shared buffer, where another thread's line could join
    it and make a write longer than the atomic size of a pipe shared by several workers."""
    out = sys.stdout
    try:
        if isinstance(line, bytes):
            try:
                fd = out.fileno()
            except (AttributeError, ValueError, OSError):  # io.UnsupportedOperation: no fd
                fd = -1
            if fd >= 0:
                out.flush()
                try:
                    written = _os_write(fd, line)
                except BlockingIOError:
                    written = 0
                if written < len(line):
                    _write_rest(fd, memoryview(line)[written:])
                return
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
    except Exception:  # noqa: S110 - stdout closed at exit, None, or broken: nowhere to write
        pass


def _write_rest(fd: int, rest: memoryview) -> None:
    """Finish a line ``os.write`` cut short: by a signal, or by a full pipe that a process
    manager made non-blocking — wait for room, as a blocking write would, and go on."""
    import select

    while rest:
        try:
            rest = rest[_os_write(fd, rest) :]
        except BlockingIOError:
            select.select([], [fd], [], 1.0)


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
        """Never raises and never hands the record to ``handleError`` (whose plain-text
        "--- Logging error ---" block is not a JSON line): the pipeline writes a line whatever
        the record carries."""
        pipeline = PIPELINE or self.pipeline
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
        from obskit._config import resolve
        from obskit._redact import Redactor

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
    from obskit._logsetup import OWN_HANDLING, describe, is_console

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
