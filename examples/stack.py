"""A local Prometheus for the demo and the end-to-end tests.

Starts Debian's ``prometheus`` binary on 127.0.0.1 with a generated configuration (scrape and
rule evaluation every second by default, exemplar storage on, the generated rule files loaded)
and offers the few HTTP API calls the demo and the tests need.  Standard library only, so the
demo runs with nothing but obskit installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

LOOPBACK = "127.0.0.1"
T = TypeVar("T")


def prometheus_config(
    targets: dict[str, Sequence[str]],
    rule_files: Sequence[Path],
    interval: str = "1s",
    alertmanagers: Sequence[str] = (),
) -> str:
    """A prometheus.yml scraping ``targets`` (job name → ``host:port`` list) every ``interval``.

    The job is named after the service: that is the selector obskit's SLOs use by default
    (``job="<service>"``).  ``alertmanagers`` (``host:port`` list) receive the alerts.
    """
    lines = [
        "global:",
        f"  scrape_interval: {interval}",
        f"  evaluation_interval: {interval}",
        "rule_files:",
        *[f"  - {json.dumps(str(p))}" for p in rule_files],
    ]
    if alertmanagers:
        lines += [
            "alerting:",
            "  alertmanagers:",
            f"    - static_configs: [{{targets: {json.dumps(list(alertmanagers))}}}]",
        ]
    lines += ["scrape_configs:"]
    for job, addresses in sorted(targets.items()):
        lines += [
            f"  - job_name: {json.dumps(job)}",
            # Exemplars travel only in OpenMetrics, which Prometheus asks for first by default.
            "    static_configs:",
            f"      - targets: {json.dumps(list(addresses))}",
        ]
    return "\n".join(lines) + "\n"


class Prometheus:
    """A running Prometheus server; use as a context manager so it always stops."""

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
    ) -> None:
        self.port = port
        self.url = f"http://{LOOPBACK}:{port}"
        self._binary = binary or shutil.which("prometheus") or "prometheus"
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="obskit-prom-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "prometheus.yml"
        self.config_path.write_text(prometheus_config(targets, rule_files, interval, alertmanagers))
        self._log_path = log_path or self.workdir / "prometheus.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Prometheus:
        """Start the server and wait until ``/-/ready`` answers."""
        log = self._log_path.open("wb")
        self._process = subprocess.Popen(
            [
                self._binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address={LOOPBACK}:{self.port}",
                "--enable-feature=exemplar-storage",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=1d",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"prometheus exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        """Everything the server printed so far."""
        return self._log_path.read_text(errors="replace") if self._log_path.exists() else ""

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its temporary folder."""
        proc, self._process = self._process, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Prometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- HTTP API -------------------------------------------------------------------------

    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data`` (raises on an API error)."""
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as resp:
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
