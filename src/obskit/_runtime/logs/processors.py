"""The application's own structlog processors (``init(log_processors=[...])``).

They run on every application log line (structlog and stdlib alike) *before* obskit's own
step, so whatever they add is redacted, bounded and rendered like the caller's fields.  A
processor that raises (or returns something that is not an event dict) never costs the line:
its result is skipped (the event goes on as it stands), the line comes out, and one JSON warning
per processor says so.
``structlog.DropEvent`` keeps its structlog meaning: the line is dropped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import structlog

from obskit._runtime.config import LogProcessor

__all__ = ["UserProcessors"]

_DROP: Final = structlog.DropEvent


class _Logger:
    """What a processor gets as ``logger``: the line's logger name (``add_logger_name``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _describe(processor: LogProcessor) -> str:
    name = getattr(processor, "__qualname__", None) or type(processor).__qualname__
    module = getattr(processor, "__module__", None) or type(processor).__module__
    return f"{module}.{name}"


class UserProcessors:
    """Runs the configured processors on one event dict; never raises (but ``DropEvent``)."""

    __slots__ = ("_failed", "_processors", "_warn")

    def __init__(
        self, processors: Sequence[LogProcessor], warn: Callable[[dict[str, Any]], None]
    ) -> None:
        self._processors = tuple(processors)
        #: Called with the warning's fields, once per failing processor (written without
        #: running the processors again: a failing one must not recurse).
        self._warn = warn
        self._failed: set[int] = set()

    def __call__(self, level: str, logger: str, event: dict[str, Any]) -> dict[str, Any]:
        wrapped = _Logger(logger)
        for processor in self._processors:
            try:
                result: Any = processor(wrapped, level, event)
            except _DROP:
                raise
            except Exception as exc:
                self._failure(processor, f"{type(exc).__qualname__}: {exc}")
                continue
            if type(result) is dict:
                event = result
            elif isinstance(result, Mapping):
                event = dict(result)
            else:
                kind = type(result).__qualname__
                self._failure(processor, f"returned {kind}, not an event dict")
        return event

    def _failure(self, processor: LogProcessor, error: str) -> None:
        key = id(processor)
        if key in self._failed:
            return
        self._failed.add(key)
        # Best effort: the warning must not cost the line it is about.
        with contextlib.suppress(Exception):
            self._warn(
                {
                    "event": "log processor failed: the line is written without its result",
                    "processor": _describe(processor),
                    "error": error,
                }
            )
