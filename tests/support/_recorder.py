"""A tiny HTTP server on 127.0.0.1 that answers 200 and records each request's headers: the
downstream of a service under test, to see what it propagates (``traceparent``, baggage …)."""

from __future__ import annotations

import threading
import time
from typing import Any

from examples.stack import LocalServer, QuietHandler

__all__ = ["HeaderRecorder"]


class _Handler(QuietHandler):
    server: Any  # the LocalServer's, with ``recorder`` set
    protocol_version = "HTTP/1.1"

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.recorder._add(self.command, self.path, dict(self.headers.items()))
        self.reply(200, b"ok", "text/plain")

    do_GET = do_POST = do_PUT = do_DELETE = _record


class HeaderRecorder:
    """Answers every request with ``200 ok`` and keeps ``(method, path, headers)``; headers are
    keyed in lower case."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._requests: list[tuple[str, str, dict[str, str]]] = []
        self._http = LocalServer(_Handler)
        self._http.server.recorder = self  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT``."""
        return self._http.url

    def _add(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._cond:
            self._requests.append((method, path, {k.lower(): v for k, v in headers.items()}))
            self._cond.notify_all()

    @property
    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """Every request received so far."""
        with self._cond:
            return list(self._requests)

    def wait_for_path(self, path: str, timeout: float = 10.0) -> dict[str, str]:
        """The headers of the first request to ``path`` (waits for it, bounded)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for _, got, headers in self._requests:
                    if got == path:
                        return headers
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no request to {path} within {timeout:.1f}s")
                self._cond.wait(min(remaining, 0.5))

    def start(self) -> HeaderRecorder:
        """Serve in a daemon thread."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._http.stop()

    def __enter__(self) -> HeaderRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
