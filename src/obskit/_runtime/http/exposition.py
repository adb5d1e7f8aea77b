"""``/metrics``: the exposition server on its own port, and ``metrics_app()`` to mount instead.

The format is negotiated (OpenMetrics with exemplars when the scraper's ``Accept`` asks for it).
With several workers the first one to bind the port serves the merged view; the others retry
every few seconds so a sibling takes over when the serving worker dies.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import make_wsgi_app, start_http_server
from prometheus_client.metrics_core import Metric

from obskit._runtime import state as _state

__all__ = ["MetricsApp", "MetricsServer", "StateCollector"]

_log = logging.getLogger("obskit.metrics")
_RETRY_SECONDS = 5.0


class StateCollector:
    """A registry-like object exposing whatever the current runtime state says to expose."""

    def collect(self) -> Iterator[Metric]:
        st = _state.STATE
        if st is None:
            return iter(())
        source = st.exposition
        if source is None:
            source = st.metrics.registry
        return iter(source.collect())


_COLLECTOR = StateCollector()


class MetricsApp:
    """``/metrics`` as an app that is both ASGI (3 arguments) and WSGI (2 arguments)."""

    def __init__(self) -> None:
        from prometheus_client.asgi import make_asgi_app

        self._wsgi = make_wsgi_app(_COLLECTOR)
        self._asgi = make_asgi_app(_COLLECTOR)

    def __call__(self, *args: Any) -> Any:
        if len(args) == 3:
            return self._asgi(*args)
        return self._wsgi(*args)


class MetricsServer:
    """The ``/metrics`` HTTP server thread (or, with several workers, the attempt to be it)."""

    def __init__(self, addr: str, port: int, *, shared: str | None) -> None:
        self.addr = addr
        self.port = port
        #: multi-worker mode: the shared directory, where the serving worker leaves its pid
        self.shared = shared
        self._warned = False
        self._server: Any = None
        self._stop = threading.Event()
        self._pid = os.getpid()

    def start(self) -> bool:
        """Bind and serve; False when the port is taken (logged, never raised)."""
        try:
            self._bind()
        except OSError as exc:
            if self.shared:
                _log.debug(
                    "metrics port served by another worker; retrying",
                    extra={"port": self.port},
                )
                self._retry_later()
            else:
                self._port_taken_error(exc)
            return False
        _log.debug("serving /metrics", extra={"port": self.port, "addr": self.addr})
        return True

    def _bind(self) -> None:
        """Serve on the port (``OSError`` when it is taken); in multi-worker mode, leave this
        worker's pid where its siblings look for the serving worker."""
        server, _thread = start_http_server(self.port, addr=self.addr, registry=_COLLECTOR)
        self._server = server
        if self.shared:
            path = os.path.join(self.shared, "metrics-server.pid")
            with contextlib.suppress(OSError), open(path, "w") as fh:
                fh.write(str(os.getpid()))

    def _sibling_serves(self) -> bool:
        """Whether a live worker of this server wrote the pid file (else a foreign program
        holds the port)."""
        assert self.shared is not None
        try:
            with open(os.path.join(self.shared, "metrics-server.pid")) as fh:
                pid = int(fh.read().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return False
        return True

    def _port_taken_error(self, exc: OSError | None) -> None:
        _log.error(
            "cannot serve /metrics: port already in use; the service keeps running "
            "without a metrics endpoint (set OBSKIT_METRICS_PORT, or 0 to disable)",
            extra={"port": self.port, "addr": self.addr, "error": str(exc)},
        )

    def _retry_later(self) -> None:
        def retry() -> None:
            while not self._stop.wait(_RETRY_SECONDS):
                if self._pid != os.getpid() or self._server is not None:
                    return
                try:
                    self._bind()
                except OSError as exc:
                    if not self._warned and not self._sibling_serves():
                        self._warned = True  # no live worker of ours serves it: say so, once
                        self._port_taken_error(exc)
                    continue
                _log.info("took over serving /metrics", extra={"port": self.port})
                return

        threading.Thread(target=retry, name="obskit-metrics-retry", daemon=True).start()

    def close_in_child(self) -> None:
        """After fork: the child must not keep the parent's listening socket."""
        server = self._server
        self._server = None
        self._stop.set()
        if server is not None:
            with contextlib.suppress(OSError):
                server.socket.close()

    def stop(self) -> None:
        self._stop.set()
        server = self._server
        self._server = None
        if server is not None and self._pid == os.getpid():
            server.shutdown()
            server.server_close()


def default_registry() -> CollectorRegistry:
    """The registry the runtime's metrics go into in single-process mode."""
    return REGISTRY
