"""Writing one rendered line to the current ``sys.stdout`` (whole lines, never interleaved)."""

from __future__ import annotations

import os
import sys

__all__ = ["write"]

_os_write = os.write


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
