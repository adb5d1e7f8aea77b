"""A WSGI app whose every gunicorn worker writes a burst of long log lines as it starts.

``BURST_LINES`` lines of ``BURST_SIZE`` bytes of padding each (every tenth one an exception whose
traceback is longer than ``BURST_SIZE``), from each worker at the same time, into the one stdout
pipe the workers share — the situation in which lines longer than the pipe's atomic write size
interleave.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import obskit

obskit.init("burst")
log = obskit.get_logger("burst")
SIZE = int(os.environ.get("BURST_SIZE", "8192"))
LINES = int(os.environ.get("BURST_LINES", "400"))


def _fail(depth: int) -> None:
    if depth == 0:
        raise RuntimeError("x" * 64)
    _again(depth - 1)


def _again(depth: int) -> None:  # alternating frames: Python does not fold them
    _fail(depth)


def _burst() -> None:
    pid = os.getpid()
    for i in range(LINES):
        if i % 10 == 9:
            try:
                _fail(SIZE // 150)
            except RuntimeError:
                log.exception("burst failure", i=i, pid=pid)
        else:
            log.info("burst", i=i, pid=pid, pad="p" * SIZE)
    log.info("burst done", pid=pid, lines=LINES)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Any request: 200 "ok"."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


_burst()
