"""A local Prometheus for the demo, the end-to-end tests and the benchmarks.

Starts Debian's ``prometheus`` binary on 127.0.0.1 with a generated configuration (scrape and
rule evaluation every second by default, exemplar storage on, the generated rule files loaded)
and offers the few HTTP API calls the demo and the tests need.  Also the one way the tests and
benchmarks start a server process (:class:`Server`) and serve HTTP from a thread
(:class:`LocalServer`, :class:`QuietHandler`, :func:`scrape_target`).  Standard library only, so
the demo runs with nothing but obskit installed.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

LOOPBACK = "127.0.0.1"
T = TypeVar("T")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """One server process in its own process group, its output appended to a log file; ready
    when a URL answers 200.  Prometheus here, and the servers of :mod:`examples.vmstack` and
    :mod:`examples.alertmanager`."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, ready_url: str, timeout: float) -> None:
        """Start the process and wait until ``ready_url`` answers 200 (``RuntimeError`` with
        its log when it exits first or is not ready in time: then it is stopped)."""
        with self.log_path.open("ab") as log:  # appended: a restarted server keeps its history
            self._process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(ready_url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout`` seconds (idempotent)."""
        proc, self._process = self._process, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def prometheus_config(
    targets: dict[str, Sequence[str]],
    rule_files: Sequence[Path],
    interval: str = "1s",
    alertmanagers: Sequence[str] = (),
    *,
    evaluation_interval: str | None = None,
    honor_labels: bool = False,
) -> str:
    """A prometheus.yml scraping ``targets`` (job name → ``host:port`` list) every ``interval``
    and evaluating the rules every ``evaluation_interval`` (default: ``interval``).

    The job is named after the service: that is the selector obskit's SLOs use by default
    (``job="<service>"``).  ``alertmanagers`` (``host:port`` list) receive the alerts.
    ``honor_labels`` keeps the ``job``/``instance`` labels a target exposes (an exporter
    standing in for many services).
    """
    lines = [
        "global:",
        f"  scrape_interval: {interval}",
        f"  evaluation_interval: {evaluation_interval or interval}",
        "rule_files:",
        *[f"  - {json.dumps(str(p))}" for p in rule_files],
    ]
    if alertmanagers:
        lines += [
            "alerting:",
            "  alertmanagers:",
            f"    - static_configs: [{{targets: {json.dumps(list(alertmanagers))}}}]",
        ]
    # Exemplars travel only in OpenMetrics, which Prometheus asks for first by default.
    return "\n".join(lines + scrape_jobs(targets, honor_labels=honor_labels)) + "\n"


def scrape_jobs(targets: dict[str, Sequence[str]], *, honor_labels: bool = False) -> list[str]:
    """The ``scrape_configs:`` lines of a configuration: one static job per entry of
    ``targets`` (job name → ``host:port`` list), in name order."""
    lines = ["scrape_configs:"]
    for job, addresses in sorted(targets.items()):
        lines += [
            f"  - job_name: {json.dumps(job)}",
            *(["    honor_labels: true"] if honor_labels else []),
            "    static_configs:",
            f"      - targets: {json.dumps(list(addresses))}",
        ]
    return lines


class QueryAPI:
    """The Prometheus HTTP API calls the demo and the tests make, on ``url``; VictoriaMetrics
    serves the same API (:class:`examples.vmstack.VictoriaMetricsStack`)."""

    url: str

    def api_url(self, path: str) -> str:
        """Where ``/api/v1/<path>`` is served (one server here)."""
        return f"{self.url}/api/v1/{path}"

    def api(self, path: str, *, timeout: float = 10.0, **params: str) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data`` (raises on an API error)."""
        url = f"{self.api_url(path)}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = json.load(resp)
        if body.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {body}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; returns the result vector."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", **params)
        result: list[dict[str, Any]] = data["result"] if data["resultType"] == "vector" else []
        return result

    def query_range(self, expr: str, start: float, end: float, step: str) -> list[dict[str, Any]]:
        """Range query; returns the result matrix."""
        data = self.api(
            "query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=step
        )
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_for(self, expr: str, timeout: float = 60.0, poll: float = 0.5) -> list[dict[str, Any]]:
        """Poll an instant query until it returns at least one sample."""
        return wait_for(self.query, expr, timeout, poll)


class Prometheus(QueryAPI):
    """A running Prometheus server; use as a context manager so it always stops.

    Its data lives in ``workdir/data`` (a temporary folder, removed on :meth:`stop`, unless
    ``workdir`` is given); ``retention`` counts from the newest block, so days-old history
    (backfilled, imported) needs more than the default day.
    """

    def __init__(
        self,
        port: int,
        targets: dict[str, Sequence[str]],
        rule_files: Sequence[Path] = (),
        *,
        binary: str | None = None,
        interval: str = "1s",
        workdir: Path | None = None,
        log_path: Path | None = None,
        alertmanagers: Sequence[str] = (),
        evaluation_interval: str | None = None,
        honor_labels: bool = False,
        retention: str = "1d",
    ) -> None:
        self.port = port
        self.url = f"http://{LOOPBACK}:{port}"
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="obskit-prom-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "prometheus.yml"
        self.config_path.write_text(
            prometheus_config(
                targets, rule_files, interval, alertmanagers,
                evaluation_interval=evaluation_interval, honor_labels=honor_labels,
            )
        )  # fmt: skip
        argv = [
            binary or shutil.which("prometheus") or "prometheus",
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            "--enable-feature=exemplar-storage",
            "--web.enable-lifecycle",
            f"--storage.tsdb.retention.time={retention}",
        ]
        self._server = Server("prometheus", argv, log_path or self.workdir / "prometheus.log")

    def start(self, timeout: float = 30.0) -> Prometheus:
        """Start the server and wait until ``/-/ready`` answers (a large data folder takes
        longer: raise ``timeout``)."""
        try:
            self._server.start(f"{self.url}/-/ready", timeout)
        except RuntimeError:
            self.stop()  # its temporary folder too (the error quotes the log)
            raise
        return self

    def log(self) -> str:
        """Everything the server printed so far."""
        return self._server.log()

    def halt(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, SIGKILL after ``timeout`` s) and keep its folder: blocks
        can be added and the server started again."""
        self._server.stop(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and remove its temporary folder."""
        self.halt(timeout)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Prometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(query: Callable[[str], list[T]], expr: str, timeout: float, poll: float) -> list[T]:
    """Poll ``query(expr)`` until it returns a non-empty list; ``TimeoutError`` after
    ``timeout`` seconds.  Both engines' ``wait_for`` (VictoriaMetrics serves the same API)."""
    deadline = time.monotonic() + timeout
    while True:
        result = query(expr)
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"no data for {expr!r} after {timeout}s")
        time.sleep(poll)


# ---- small HTTP servers on 127.0.0.1 (scrape targets, stand-ins) ---------------------------


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that prints no line per request and answers with :meth:`reply`."""

    def reply(self, status: int, body: bytes, content_type: str) -> None:
        """Send one whole response: status, content type and length, body."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """No per-request line."""


class LocalServer:
    """``handler`` served on a free 127.0.0.1 port (or ``host``/``port``) from a daemon thread;
    a context manager (stopped and its socket closed on exit).  ``server`` is the
    ``ThreadingHTTPServer``, which a handler reaches as ``self.server``."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], *, host: str = LOOPBACK, port: int = 0
    ) -> None:
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        #: ``host:port``, as a scrape configuration's target.
        self.address = f"{LOOPBACK}:{self.port}"
        self.url = f"http://{self.address}"
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},  # a prompt stop()
            name=f"{handler.__name__}-{self.port}",
            daemon=True,
        )

    def start(self) -> LocalServer:
        """Serve from now on (idempotent); returns ``self``."""
        if self._thread.ident is None:
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread.is_alive():
            self.server.shutdown()
            self._thread.join(timeout=5)
        self.server.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def scrape_target(exposition: Callable[[int], str]) -> LocalServer:
    """A scrape target: every GET is answered with ``exposition(n)`` in the Prometheus text
    format, ``n`` counting the scrapes from 1 (one at a time, whoever scrapes)."""
    scrapes = itertools.count(1)
    lock = threading.Lock()

    class Target(QuietHandler):
        def do_GET(self) -> None:
            with lock:
                body = exposition(next(scrapes)).encode()
            self.reply(200, body, "text/plain; version=0.0.4")

    return LocalServer(Target)
