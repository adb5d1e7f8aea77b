"""The services under test: which app, which server, and a handle on a running one.

A :class:`Kind` says how to run one of the apps in ``apps/`` (uvicorn, gunicorn's sync worker for
Flask, gunicorn with two uvicorn workers) and which route templates its framework reports.
:func:`run_service` starts it with obskit pointed at a test OTLP receiver and a free metrics port,
and yields a :class:`Service` that reads its JSON log lines and scrapes its ``/metrics``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.support import (
    Scrape,
    ServerProcess,
    free_port,
    gunicorn_command,
    scrape,
    uvicorn_command,
    wait_for_port,
)

from obskit import conventions

APPS_DIR = Path(__file__).resolve().parent / "apps"

_FASTAPI_ROUTES = {
    "orders": "/orders/{order_id}",
    "items": "/items/{item_id}",
    "whoami": "/whoami",
    "healthz": "/healthz",
    "boom": "/boom",
    "login": "/login",
    "proxy": "/proxy/{n}",
}
_FLASK_ROUTES = {
    "static": "/static/<path:filename>",  # Flask's built-in static route
    "orders": "/orders/<int:order_id>",
    "items": "/items/<int:item_id>",
    "whoami": "/whoami",
    "healthz": "/healthz",
    "boom": "/boom",
    "login": "/login",
    "proxy": "/proxy/<int:n>",
}


@dataclass(frozen=True)
class Kind:
    """One way of serving one app: the server command and the app's route templates."""

    id: str
    app: str
    service_name: str
    server: str  # "uvicorn" or "gunicorn"
    routes: Mapping[str, str]
    workers: int = 1
    worker_class: str = "sync"
    extra: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    #: ``(http, loop)`` an ASGI kind serves with: ``("h11", "asyncio")`` (plain ``pip install
    #: uvicorn``) or ``("httptools", "uvloop")`` (``uvicorn[standard]``); None for WSGI.
    stack: tuple[str, str] | None = None

    def command(self, port: int) -> list[str]:
        """The argv that serves the app on 127.0.0.1:``port``."""
        if self.server == "uvicorn":
            workers = ("--workers", str(self.workers)) if self.workers > 1 else ()
            return uvicorn_command(self.app, port, *workers, *self.extra)
        return gunicorn_command(
            self.app, port, *self.extra, workers=self.workers, worker_class=self.worker_class
        )

    def route(self, name: str) -> str:
        """The route template the framework reports for the logical route ``name``."""
        return self.routes[name]


#: uvicorn as ``pip install uvicorn`` runs it: the pure-Python h11 parser on asyncio's loop.
#: (The dev group also has uvicorn[standard]'s httptools and uvloop, which uvicorn's default
#: ``auto`` would take: the gunicorn kinds run on those.)
PLAIN_UVICORN = ("--http", "h11", "--loop", "asyncio")
H11_ASYNCIO = ("h11", "asyncio")
HTTPTOOLS_UVLOOP = ("httptools", "uvloop")
UVICORN = Kind(
    "uvicorn",
    "e2e_fastapi:app",
    "e2e-fastapi",
    "uvicorn",
    _FASTAPI_ROUTES,
    extra=PLAIN_UVICORN,
    stack=H11_ASYNCIO,
)


def _uvicorn_worker_class() -> str:
    """The uvicorn worker class for gunicorn: the ``uvicorn-worker`` package when installed
    (uvicorn deprecated its own ``uvicorn.workers``), else ``uvicorn.workers.UvicornWorker``."""
    return (
        "uvicorn_worker.UvicornWorker"
        if importlib.util.find_spec("uvicorn_worker") is not None
        else "uvicorn.workers.UvicornWorker"
    )


UVICORN_WORKER = _uvicorn_worker_class()

#: gunicorn's master never imports the app (no ``--preload``): as docs/runtime.md says, its own
#: lines become JSON with ``--logger-class obskit.GunicornLogger`` and take the service name from
#: the environment.
_GUNICORN_MASTER_JSON = ("--logger-class", "obskit.GunicornLogger")
FLASK_GUNICORN = Kind(
    "flask-gunicorn",
    "e2e_flask:app",
    "e2e-flask",
    "gunicorn",
    _FLASK_ROUTES,
    extra=_GUNICORN_MASTER_JSON,
    env={"OBSKIT_SERVICE_NAME": "e2e-flask"},
)
GUNICORN_2_UVICORN = Kind(
    "gunicorn-2-uvicorn-workers",
    "e2e_fastapi:app",
    "e2e-fastapi",
    "gunicorn",
    _FASTAPI_ROUTES,
    workers=2,
    worker_class=UVICORN_WORKER,
    extra=_GUNICORN_MASTER_JSON,
    env={"OBSKIT_SERVICE_NAME": "e2e-fastapi"},
    stack=HTTPTOOLS_UVLOOP,  # the uvicorn worker's default "auto", with uvicorn[standard]
)
KINDS = (UVICORN, FLASK_GUNICORN, GUNICORN_2_UVICORN)

#: Further multi-process set-ups, run by the worker tests only: the app imported in gunicorn's
#: master before the fork (then ``init()`` runs in the master: no logger class needed), and
#: uvicorn's own supervisor spawning two workers.
GUNICORN_2_PRELOAD = Kind(
    "gunicorn-2-uvicorn-workers-preload",
    "e2e_fastapi:app",
    "e2e-fastapi",
    "gunicorn",
    _FASTAPI_ROUTES,
    workers=2,
    worker_class=UVICORN_WORKER,
    extra=("--preload",),
)
#: uvicorn's supervisor never imports the app either: docs/runtime.md gives this log config
#: (verbatim in apps/uvicorn-log.json) to make its lines JSON.
UVICORN_2_WORKERS = Kind(
    "uvicorn-2-workers",
    "e2e_fastapi:app",
    "e2e-fastapi",
    "uvicorn",
    _FASTAPI_ROUTES,
    workers=2,
    extra=("--log-config", str(APPS_DIR / "uvicorn-log.json")),
    env={"OBSKIT_SERVICE_NAME": "e2e-fastapi"},
)


@dataclass
class Service:
    """A running service: its process, ports, and readers for its output and metrics."""

    kind: Kind
    proc: ServerProcess
    port: int
    metrics_port: int
    _parsed: list[dict[str, Any]] = field(default_factory=list)
    _parsed_upto: int = 0

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        """The obskit metrics endpoint of this service."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTP client for the service (10 s timeout)."""
        return httpx.Client(base_url=self.base_url, timeout=10.0, **kwargs)

    # -- logs --------------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        """Every output line (stdout and stderr) so far that is a JSON object, parsed."""
        lines = self.proc.lines
        for line in lines[self._parsed_upto :]:
            with contextlib.suppress(ValueError):
                value = json.loads(line.text)
                if isinstance(value, dict):
                    self._parsed.append(value)
        self._parsed_upto = len(lines)
        return list(self._parsed)

    def wait_records(
        self,
        predicate: Callable[[Mapping[str, Any]], bool],
        *,
        count: int = 1,
        timeout: float = 10.0,
        what: str = "log records",
    ) -> list[dict[str, Any]]:
        """Poll the output until ``count`` JSON records satisfy ``predicate``; return them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.records() if predicate(r)]
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{what}: {len(found)}/{count} found within {timeout:.0f}s; output tail:\n"
                    + self.proc.output_tail(25)
                )
            time.sleep(0.05)  # polling, bounded by the deadline

    def access_line(self, *, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        """The single access line whose fields equal ``fields`` (waits for it)."""
        found = self.wait_records(
            lambda r: (
                r.get("logger") == "obskit.access" and all(r.get(k) == v for k, v in fields.items())
            ),
            timeout=timeout,
            what=f"access line with {fields}",
        )
        assert len(found) == 1, f"expected one access line with {fields}, got {found}"
        return found[0]

    # -- metrics -----------------------------------------------------------------------------
    def scrape(self) -> Scrape:
        """Scrape ``/metrics`` as Prometheus does (OpenMetrics, with exemplars)."""
        return scrape(self.metrics_url)

    def wait_scrape(
        self, predicate: Callable[[Scrape], bool], *, timeout: float = 10.0, what: str = ""
    ) -> Scrape:
        """Scrape until ``predicate`` holds (bounded); return the last scrape."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                result: Scrape | None = self.scrape()
            except OSError as exc:  # the endpoint is moving (a worker restarting): retry
                result, error = None, exc
            if result is not None and predicate(result):
                return result
            if time.monotonic() >= deadline:
                seen = (
                    [(s.labels, s.value) for s in result.find(conventions.HTTP_DURATION_COUNT)]
                    if result is not None
                    else f"no answer: {error!r}"
                )
                raise AssertionError(
                    f"metrics never satisfied {what or predicate} within {timeout:.0f}s; "
                    f"{conventions.HTTP_DURATION_COUNT} samples: {seen}"
                )
            time.sleep(0.1)  # polling, bounded by the deadline


def service_env(
    *,
    otlp_endpoint: str,
    metrics_port: int,
    tmp_dir: Path,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment a test service runs with: obskit and OTel pointed at the test's ports."""
    env = {
        "PYTHONPATH": str(APPS_DIR),
        # prometheus-client's multiprocess directory and anything else temporary stays per test.
        "TMPDIR": str(tmp_dir),
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OBSKIT_METRICS_PORT": str(metrics_port),
        "OBSKIT_METRICS_ADDR": "127.0.0.1",
    }
    env.update(extra or {})
    return env


@contextlib.contextmanager
def run_service(
    kind: Kind,
    *,
    otlp_endpoint: str,
    tmp_dir: Path,
    extra_env: Mapping[str, str] | None = None,
    wait_metrics: bool = True,
    tty: bool = False,
) -> Iterator[Service]:
    """Start ``kind`` on free ports, wait until it (and its metrics port) answers, yield it,
    and stop the whole process group afterwards whatever happens.  ``tty=True`` gives the server
    a terminal as stdout/stderr."""
    port, metrics_port = free_port(), free_port()
    env = service_env(
        otlp_endpoint=otlp_endpoint,
        metrics_port=metrics_port,
        tmp_dir=tmp_dir,
        extra={**kind.env, **(extra_env or {})},
    )
    proc = ServerProcess(kind.command(port), env=env, name=kind.id, tty=tty)
    with proc:
        proc.wait_for_port(port, timeout=30)
        service = Service(kind, proc, port, metrics_port)
        # gunicorn binds before its workers have imported the app: one request proves a worker
        # is serving (the probe path is excluded from metrics, spans and access lines).
        _wait_serving(service)
        if wait_metrics:
            wait_for_port(metrics_port, timeout=20)
        yield service


def _wait_serving(service: Service, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with service.client() as client:
        while True:
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if not service.proc.running() or time.monotonic() >= deadline:
                raise AssertionError(
                    f"{service.kind.id} never served /healthz:\n" + service.proc.output_tail()
                )
            time.sleep(0.05)  # polling, bounded by the deadline
