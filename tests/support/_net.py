"""Loopback network helpers: free and closed ports, waiting for a port, a black-hole endpoint."""

from __future__ import annotations

import socket
import threading
import time

from examples.stack import free_port

__all__ = [
    "BlackHole",
    "closed_port",
    "free_port",
    "port_answers",
    "request_until_close",
    "wait_for_port",
]


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connecting to it is refused at once."""
    return free_port()


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """Whether a TCP connection to ``host:port`` succeeds now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(port: int, *, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
    """Poll until ``host:port`` accepts connections.

    Raises:
        TimeoutError: when it still refuses after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not port_answers(port, host):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{host}:{port} did not accept connections within {timeout:.1f}s")
        time.sleep(delay)  # polling back-off, bounded by the deadline
        delay = min(delay * 1.5, 0.2)


def request_until_close(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """Send one ``Connection: close`` request on a raw socket and read until the server closes.

    Unlike a pooled client this returns only once the server has finished with the connection,
    i.e. after everything it does for the request (such as logging an exception) is done.
    Returns the status code and the raw response (head and body).
    """
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    chunks = []
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{host}:{port}{path}: connection still open after {timeout}s")
    raw = b"".join(chunks)
    status_line = raw.split(b"\r\n", 1)[0].decode("latin-1")
    return int(status_line.split()[1]), raw


class BlackHole:
    """A TCP endpoint on 127.0.0.1 that accepts connections and never answers.

    It models a *slow* (hung) collector: a client blocks until its own timeout.  Accepted sockets
    are held open until :meth:`stop`.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="blackhole", daemon=True)
        self.accepted = 0

    @property
    def port(self) -> int:
        """The listening port."""
        port: int = self._sock.getsockname()[1]
        return port

    @property
    def endpoint(self) -> str:
        """Base URL for ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)
            self.accepted += 1

    def start(self) -> BlackHole:
        """Start accepting in a daemon thread; returns ``self``."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close every held connection and the listening socket."""
        self._stopping.set()
        self._thread.join(timeout=2)
        for conn in self._held:
            conn.close()
        self._sock.close()

    def __enter__(self) -> BlackHole:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
