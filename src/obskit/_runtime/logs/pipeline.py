"""Structured logs: one structlog pipeline, the stdlib bridged into it, JSON lines on stdout.

The processor chain is deliberately short — ``merge_contextvars`` and one obskit processor that
adds the fixed fields, the active span's ids, redaction and exception formatting, then renders
with orjson — because every extra processor is a Python call on every log line.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import MutableMapping
from typing import Any, Final

import orjson
import structlog

from obskit import conventions as c
from obskit._runtime.config import Config
from obskit._runtime.logs import bindings as _bindings
from obskit._runtime.logs.bindings import _get_contextvars, current_ids
from obskit._runtime.logs.output import write
from obskit._runtime.logs.processors import UserProcessors
from obskit._runtime.logs.render import (
    CONVERTED_FIELD,
    ERROR_FIELD,
    LINE_MAX_BYTES,
    OWN_FIELDS,
    keep_user_fields,
    safe_text,
)
from obskit._runtime.logs.render import dumps as render_line
from obskit._runtime.logs.render import fit as fit_line
from obskit._runtime.redact import Redactor

__all__ = ["LogPipeline", "format_exception"]

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
_time_ns = time.time_ns


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
        #: ``(method, route, status)`` -> the access line's JSON around the path (see
        #: :meth:`_access_template`).
        self._access_parts: dict[tuple[str, str, int], tuple[bytes, bytes]] = {}
        #: When a list, events are appended to it instead of being written (obskit.testing).
        self.capture: list[dict[str, Any]] | None = None
        self._console_renderer: Any = None
        if self.console:
            self._console_renderer = structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
        #: The application's processors (``log_processors``), None when there are none.
        self.processors: UserProcessors | None = None
        if config.log_processors:
            self.processors = UserProcessors(config.log_processors, self._processor_warning)

    def _processor_warning(self, fields: dict[str, Any]) -> None:
        rendered = self.render(self.build("warning", "obskit", fields, user=False))
        if rendered is not None:
            write(rendered)

    def build(
        self, level: str, logger: str, event: dict[str, Any], user: bool = True
    ) -> dict[str, Any]:
        """The final event: fixed fields first, then ids, then the caller's keys, redacted.

        The application's processors run first (``user``), so what they add is redacted too;
        they may raise ``structlog.DropEvent``."""
        processors = self.processors
        if processors is not None and user:
            event = processors(level, logger, event)
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
        same line): the usual case — nothing bound, JSON to stdout — is filled into JSON
        pre-rendered per (method, route, status), only the path and client encoded."""
        # Something bound in this context (structlog keeps a var per key ever bound: look).
        # (Read through the module: the self-test may switch the map off after import.)
        bound_vars = _bindings._BOUND_VARS
        if (
            self.capture is not None
            or self.console
            or ((bound_vars is None or bound_vars) and _get_contextvars())
        ):
            self.access(
                {
                    "method": method,
                    "route": route,
                    "path": path,
                    "status": status,
                    "duration_ms": round(seconds * 1000.0, 3),
                    "client_addr": client,
                },
                trace_id,
                span_id,
            )
            return
        # The fields between the ids and the path depend only on (method, route, status): their
        # JSON is rendered once per combination; the path, duration and client are filled in.
        key = (method, route, status)
        parts = self._access_parts.get(key)
        try:
            if parts is None:
                parts = self._access_template(method, route, status)
            path_json = _dumps(path)
            client_json = _dumps(client)
        except Exception:  # a lone surrogate in a path from an unusual server
            self.access(
                {"method": method, "route": route, "path": path, "status": status,
                 "duration_ms": round(seconds * 1000.0, 3), "client_addr": client},
                trace_id, span_id,
            )  # fmt: skip
            return
        # ``round(ms, 3)`` as orjson writes it: "%.3f" makes the same correctly rounded decimal
        # digits round() converts back to a float, and orjson's shortest repr of that float is
        # those digits without trailing zeros ("12.340" -> "12.34", "2.000" -> "2.0") for any
        # duration below 9e12 ms (tested against round() + orjson).  One dtoa instead of three.
        ms = b"%.3f" % (seconds * 1000.0)
        ms = ms.rstrip(b"0")
        if ms[-1:] == b".":
            ms += b"0"
        # _Clock.line_start() inlined (one call fewer per request).
        ns = _time_ns()
        clock = self._clock
        cached = clock._cached
        if ns // 1_000_000_000 != cached[0]:
            cached = clock._refresh(ns // 1_000_000_000)
        if trace_id is not None:
            line = b'%s%06dZ%s"trace_id":"%s","span_id":"%s",%s%s%s%s,"client_addr":%s}\n' % (
                cached[2], ns // 1000 % 1_000_000, self._access_head, trace_id.encode(),
                (span_id or "").encode(), parts[0], path_json, parts[1], ms, client_json,
            )  # fmt: skip
        else:
            line = b'%s%06dZ%s%s%s%s%s,"client_addr":%s}\n' % (
                cached[2], ns // 1000 % 1_000_000, self._access_head, parts[0], path_json,
                parts[1], ms, client_json,
            )  # fmt: skip
        if len(line) > self.line_max:  # a very long path
            line = fit_line(orjson.loads(line), len(line), self.line_max)
        write(line)

    def _access_template(self, method: str, route: str, status: int) -> tuple[bytes, bytes]:
        """``('"method":…,"route":…,"path":', ',"status":…,"duration_ms":')`` rendered by orjson,
        kept for standard methods (a bounded set: the route templates are the app's own)."""
        head = _dumps({"method": method, "route": route, "path": None})
        tail = _dumps({"status": status, "duration_ms": None})
        parts = (head[1:-5], b"," + tail[1:-5])  # without the braces and the nulls
        if method in _STANDARD_METHODS and len(self._access_parts) < _ACCESS_PARTS_MAX:
            self._access_parts[(method, route, status)] = parts
        return parts

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
        try:
            rendered = self.render(self.build(level, logger, event))
        except structlog.DropEvent:  # an application processor dropped the line
            return
        if rendered is not None:
            write(rendered)


_dumps = orjson.dumps
_os_write = os.write
_STANDARD_METHODS: Final = c.STANDARD_METHODS
#: Upper bound of cached access-line templates (beyond it, each line renders its own).
_ACCESS_PARTS_MAX: Final = 10_000
_LINE_OPTIONS: Final = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
