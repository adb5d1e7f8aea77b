"""A keep-alive ``http.client`` transport for obskit's OTLP/HTTP exporter (plain-HTTP endpoints).

Upstream's exporter (1.45.2) posts each batch through a ``requests.Session`` (1.45.0: urllib3,
about twice this transport's CPU per POST in one quick measurement): merging settings, looking up
proxies and ``.netrc`` in the environment and building a ``PreparedRequest`` cost about 850 µs of
CPU per POST here, against about 150 µs for the same POST on one kept-alive ``http.client``
connection (``benchmarks/README.md``).  The export thread shares the GIL with the requests, and a
benchmark batch of 200 requests makes two POSTs: about 7 µs per request.

Only the transport changes: upstream's ``_OTLPHTTPClient`` keeps its retries, back-off,
``Retry-After``, compression and headers, and calls this object exactly as it calls its own
transport (``request()``, ``is_connection_error()``, ``close()``).  It is used
only where it sends what ``requests`` would send: an ``http://`` endpoint, no proxy variable
that applies to it, no ``.netrc`` file (``requests`` would add its credentials), no credential
provider session.  Anything else (HTTPS above all: certificate handling stays ``requests``')
keeps upstream's own transport.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import threading
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = ["KeepAliveTransport", "keepalive_refusal"]

#: Variables naming a credential provider: upstream builds its ``requests`` session from it.
_CREDENTIAL_PROVIDERS: Final = (
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
)
#: Network failures: retried by upstream's client like ``requests``' ``ConnectionError``.
_NETWORK: Final = (OSError, http.client.HTTPException)


def keepalive_refusal(endpoint: str) -> str | None:
    """Why :class:`KeepAliveTransport` must not send to ``endpoint`` (None: it may)."""
    parts = urlsplit(endpoint)
    if parts.scheme != "http" or not parts.hostname:
        return "not a plain http:// endpoint"
    for name in _CREDENTIAL_PROVIDERS:
        if os.environ.get(name):
            return f"{name} is set"
    proxies = urllib.request.getproxies()
    if ("http" in proxies or "all" in proxies) and not urllib.request.proxy_bypass(parts.hostname):
        return "a proxy variable applies to the endpoint"
    netrc = os.environ.get("NETRC")
    candidates = [Path(netrc)] if netrc else [Path.home() / ".netrc", Path.home() / "_netrc"]
    if any(p.exists() for p in candidates):
        return "a .netrc file exists"
    return None


class _Result:
    """One response (or failure), shaped as upstream's ``BaseHTTPResult``."""

    __slots__ = ("_body", "_headers", "error", "reason", "status_code")

    def __init__(
        self,
        status_code: int | None = None,
        reason: str | None = None,
        error: Exception | None = None,
        headers: Any = None,
        body: bytes = b"",
    ) -> None:
        self.status_code = status_code
        self.reason = reason
        self.error = error
        self._headers = headers
        self._body = body

    def headers(self) -> Mapping[str, str]:
        """The response headers (``http.client``'s message: case-insensitive ``get``)."""
        return self._headers if self._headers is not None else {}

    def content(self) -> bytes:
        return self._body

    def text(self) -> str:
        return self._body.decode("utf-8")


class KeepAliveTransport:
    """POSTs over one kept-alive ``http.client`` connection per endpoint host.

    A failed request closes the connection (the next one reconnects); a network failure is an
    ``error`` that :meth:`is_connection_error` recognises, so upstream retries it as it retries
    ``requests``' connection errors.  Any other exception is a bug of this transport: returned
    as an error all the same (the request never raises), and kept in :attr:`own_error` so the
    exporter reports obskit's path, not the network.  A forked child never reuses its parent's
    socket.
    """

    def __init__(self) -> None:
        self._conn: http.client.HTTPConnection | None = None
        self._key: tuple[str, int] | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        #: Set by :meth:`close`: a request it interrupts fails as a network error would, and
        #: later requests fail at once the same way (nothing is sent after the shutdown).
        self._closed = False
        #: The last request's own (non-network) failure, or None.
        self.own_error: Exception | None = None

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        data: bytes | None = None,
    ) -> _Result:
        with self._lock:
            self.own_error = None
            if self._closed:  # upstream's client retries a connection error at once, unchecked
                return _Result(error=ConnectionAbortedError("the OTLP exporter was shut down"))
            try:
                return self._request(method, url, headers or {}, timeout, data)
            except _NETWORK as exc:
                self._drop()
                return _Result(error=exc)
            except Exception as exc:  # obskit's bug: never raised into upstream's retry loop
                self._drop()
                if not self._closed:  # else: the connection was closed under the request
                    self.own_error = exc
                return _Result(error=exc)

    def _request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        timeout: float | None,
        data: bytes | None,
    ) -> _Result:
        parts = urlsplit(url)
        key = (parts.hostname or "", parts.port or 80)
        if timeout is not None:
            timeout = max(timeout, 0.001)  # 0 would make the socket non-blocking
        conn = self._conn
        if conn is None or key != self._key or self._pid != os.getpid():
            self._drop()
            conn = self._conn = http.client.HTTPConnection(key[0], key[1], timeout=timeout)
            self._key, self._pid = key, os.getpid()
        else:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        conn.request(method, target, body=data, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.will_close:
            self._drop()
        return _Result(response.status, response.reason, None, response.msg, body)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()  # in a forked child: closes this process's copy of the socket only

    def is_connection_error(self, exception: Exception | None) -> bool:
        return isinstance(exception, _NETWORK)

    def close(self) -> None:
        """Close the connection (without the lock: a request in flight then fails at once, as a
        network failure).

        Closing the socket alone would not wake a request blocked on the answer: its response
        object holds the socket open, so it would wait for a hung collector until its timeout
        and hold up the exporter's shutdown.  ``shutdown()`` ends the connection for the
        blocked read too (not in a forked child: the TCP connection is still the parent's), and
        the retry upstream's client makes at once after a connection error is refused instead
        of opening a new connection to the same unanswering collector."""
        self._closed = True
        conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None and self._pid == os.getpid():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._drop()
