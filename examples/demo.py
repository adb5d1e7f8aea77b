"""The obskit demo: the example services, their SLO rules in a real Prometheus, and some traffic.

Run from the repository root (needs the ``dev`` extra and Debian's ``prometheus``)::

    python -m examples.demo                 # until Ctrl-C
    python -m examples.demo --duration 600  # or a bounded run
    python -m examples.demo --engine victoriametrics   # Debian's victoria-metrics and
                                                       # prometheus-alertmanager instead

It builds the Prometheus rules from ``slo/`` with ``obskit slo build``, starts the ``checkout``
and ``search`` example services under uvicorn, a Prometheus scraping them every 5 s with the
rules loaded and exemplar storage on, and a small load generator; then prints the URLs to open.
With ``--engine victoriametrics`` the same rules run in vmalert over VictoriaMetrics, the
services scraped by vmagent, vmalert's alerts sent to a local Alertmanager (``--interval``
applies to scraping and evaluation alike).  Everything listens on 127.0.0.1 only.  Ctrl-C
(SIGINT) or SIGTERM stops it all: the load, the services and the engine's servers, each in its
own process group, so nothing is left behind.  Service logs
(JSON lines) are kept in ``.obskit-demo/`` for you to grep trace ids in.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType

from examples.alertmanager import Alertmanager
from examples.stack import LOOPBACK, Prometheus
from examples.vmstack import VictoriaMetricsStack

REPO = Path(__file__).resolve().parent.parent
MAX_RATE = 50.0  # requests per second: a demo, not a load test

#: Preferred ports (a busy one is replaced by a free one, as is every port with --free-ports).
PORTS = {"checkout": 8000, "search": 8001, "checkout-metrics": 9464, "search-metrics": 9465}
PROMETHEUS_PORT = 9090
VICTORIA_METRICS_PORT = 8428
ALERTMANAGER_PORT = 9093
ENGINES = ("prometheus", "victoriametrics")

#: Queries worth a look in Prometheus' graph page, with what they show.
QUERIES = [
    ("SLIs over 5 minutes (1 = perfect)", "1 - obskit_slo:sli_error:ratio_rate5m"),
    ("Burn rates per alert window", "obskit_slo:burn_rate:ratio"),
    ("Error budget left over the period", "obskit_slo:error_budget_remaining:ratio"),
    (
        "p99 latency by route (tick 'Show exemplars' for trace ids)",
        "histogram_quantile(0.99, sum by (le, http_route) "
        '(rate(http_server_request_duration_seconds_bucket{job="checkout"}[1m])))',
    ),
    (
        "Requests by route and status",
        "sum by (job, http_route, http_response_status_code) "
        "(rate(http_server_request_duration_seconds_count[1m]))",
    ),
]


def _port(preferred: int, free: bool) -> int:
    """``preferred`` if it is free on 127.0.0.1 (and ``free`` is false), else any free port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, 0 if free else preferred))
        except OSError:
            sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see its log")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {LOOPBACK}:{port} within {timeout:.0f}s")


class Demo:
    """Owns every process the demo starts and stops them all, whatever happens."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir: Path = args.workdir
        self.ports = {name: _port(port, args.free_ports) for name, port in PORTS.items()}
        self.services: dict[str, subprocess.Popen[bytes]] = {}
        self.prometheus: Prometheus | None = None
        self.victoria: VictoriaMetricsStack | None = None
        self.alertmanager: Alertmanager | None = None
        self.stopping = threading.Event()
        self.sent = 0
        self._sent_lock = threading.Lock()

    # -- start -------------------------------------------------------------------------------
    def build_rules(self) -> list[Path]:
        """``obskit slo build SLO_DIR --out WORKDIR/build`` — the same command users run."""
        out = self.workdir / "build"
        subprocess.run(
            [sys.executable, "-m", "obskit", "slo", "build", str(self.args.slo), "--out", str(out)],
            check=True,
            timeout=120,
        )
        return sorted((out / "rules").glob("*.yaml"))

    def start_service(self, name: str) -> None:
        """``uvicorn examples.<name>.app:app`` in its own process group, logs to a file."""
        env = {
            **os.environ,
            "OBSKIT_METRICS_PORT": str(self.ports[f"{name}-metrics"]),
            "OBSKIT_METRICS_ADDR": LOOPBACK,
            "OBSKIT_LOG_FORMAT": "json",
            "CHECKOUT_ERROR_RATE": str(self.args.error_rate),
            "CHECKOUT_SLOW_RATE": str(self.args.slow_rate),
            "SEARCH_ERROR_RATE": str(self.args.error_rate),
        }
        if not env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            # No collector: spans are still created (ids in logs and exemplars), not exported.
            env["OTEL_TRACES_EXPORTER"] = "none"
        log = (self.workdir / f"{name}.log").open("wb")
        argv = [sys.executable, "-m", "uvicorn", f"examples.{name}.app:app"]
        self.services[name] = subprocess.Popen(
            [*argv, "--host", LOOPBACK, "--port", str(self.ports[name])],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo only; it stops the services itself
        )
        log.close()
        _wait_for_port(self.ports[name], self.services[name], name, timeout=30)

    def start(self) -> None:
        """Rules, services, the engine — in that order, so the first scrape finds everything."""
        rule_files = self.build_rules()
        for name in ("checkout", "search"):
            if self.stopping.is_set():  # Ctrl-C while starting: stop() cleans up
                return
            self.start_service(name)
        targets = {n: [f"{LOOPBACK}:{self.ports[f'{n}-metrics']}"] for n in ("checkout", "search")}
        if self.args.engine == "prometheus":
            self.prometheus = Prometheus(
                _port(PROMETHEUS_PORT, self.args.free_ports),
                targets,
                rule_files,
                interval=self.args.interval,
            ).start()
            return
        # vmalert will not start with alerting rules and nowhere to send them: an Alertmanager
        # that routes nowhere, for its web UI.
        self.alertmanager = Alertmanager(
            port=_port(ALERTMANAGER_PORT, self.args.free_ports), workdir=self.workdir / "am"
        ).start()
        self.victoria = VictoriaMetricsStack(
            targets,
            rule_files,
            notifier_urls=[self.alertmanager.url],
            interval=self.args.interval,
            port=_port(VICTORIA_METRICS_PORT, self.args.free_ports),
            workdir=self.workdir / "vm",
        ).start()

    # -- load --------------------------------------------------------------------------------
    def _one_request(self, rng: random.Random) -> None:
        checkout = f"http://{LOOPBACK}:{self.ports['checkout']}"
        search = f"http://{LOOPBACK}:{self.ports['search']}"
        cart = f"{checkout}/cart/c{rng.randrange(100)}"
        method, url, body = rng.choice(
            [
                ("GET", f"{checkout}/products", None),
                ("GET", cart, None),
                ("GET", cart, None),
                ("PUT", cart, b'{"sku": "sku-1"}'),
                ("POST", f"{checkout}/checkout", b'{"cart_id": "c1"}'),
                ("GET", f"{search}/search?q=sku", None),
            ]
        )
        request = urllib.request.Request(
            url, data=body, method=method, headers={"content-type": "application/json"}
        )
        with contextlib.suppress(urllib.error.URLError, OSError):
            urllib.request.urlopen(request, timeout=5).close()  # an HTTP error is fine too
        with self._sent_lock:
            self.sent += 1

    def load(self) -> None:
        """Send about ``--rate`` requests per second until stopped (slow ones run in parallel)."""
        rng = random.Random()
        interval = 1 / min(self.args.rate, MAX_RATE)
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="demo-load") as pool:
            while not self.stopping.wait(interval):
                pool.submit(self._one_request, rng)

    # -- stop --------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop everything (idempotent): SIGTERM each process group, SIGKILL what lingers."""
        self.stopping.set()
        for name, proc in list(self.services.items()):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # anything the service itself started
            del self.services[name]
        if self.prometheus is not None:
            self.prometheus.stop()
            self.prometheus = None
        if self.victoria is not None:
            self.victoria.stop()
            self.victoria = None
        if self.alertmanager is not None:
            self.alertmanager.stop()
            self.alertmanager = None

    def print_urls(self) -> None:
        """What to open, with the queries worth running."""
        checkout = f"http://{LOOPBACK}:{self.ports['checkout']}"
        lines = [
            "",
            "obskit demo is running (everything on 127.0.0.1):",
            f"  checkout service   {checkout}/products   (API docs: {checkout}/docs)",
            f"  search service     http://{LOOPBACK}:{self.ports['search']}/search?q=sku",
            f"  checkout /metrics  http://{LOOPBACK}:{self.ports['checkout-metrics']}/metrics",
        ]
        if self.victoria is not None and self.alertmanager is not None:
            vm, vmalert = self.victoria.url, self.victoria.vmalert_url
            lines += [
                f"  VictoriaMetrics    {vm}   (Prometheus query API: add it to Grafana)",
                f"  SLO alerts         {vmalert}/vmalert/alerts",
                f"  rules              {vmalert}/vmalert/groups",
                f"  scrape targets     http://{LOOPBACK}:{self.victoria.vmagent_port}/targets",
                f"  Alertmanager       {self.alertmanager.url}",
                "Queries (Debian's build has no vmui: query the API, or Grafana):",
            ]
            for title, expr in QUERIES:
                params = urllib.parse.urlencode({"query": expr})
                title = title.split(" (tick")[0]  # VictoriaMetrics keeps no exemplars
                lines += [f"  {title}:", f"    {vm}/api/v1/query?{params}"]
        else:
            assert self.prometheus is not None
            prom = self.prometheus.url
            lines += [
                f"  Prometheus         {prom}",
                f"  SLO alerts         {prom}/alerts",
                f"  rules              {prom}/rules",
                f"  scrape targets     {prom}/targets",
                "Queries:",
            ]
            for title, expr in QUERIES:
                params = urllib.parse.urlencode(
                    {"g0.expr": expr, "g0.tab": "0", "g0.range_input": "15m"}
                )
                lines += [f"  {title}:", f"    {prom}/graph?{params}"]
        lines += [
            f"Logs (JSON lines): {self.workdir}/checkout.log, {self.workdir}/search.log",
            "Walkthrough: docs/demo.md.  Press Ctrl-C to stop.",
        ]
        print("\n".join(lines), flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The demo's options."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.demo",
        description="The example services, their SLO rules in a real Prometheus (or "
        "VictoriaMetrics), and traffic.",
    )
    parser.add_argument("--duration", type=float, default=None, help="stop after SECONDS")
    parser.add_argument("--rate", type=float, default=5.0, help=f"requests/s (max {MAX_RATE:g})")
    parser.add_argument("--error-rate", type=float, default=0.05, help="share of failed requests")
    parser.add_argument("--slow-rate", type=float, default=0.1, help="share of slow checkouts")
    parser.add_argument(
        "--engine", choices=ENGINES, default="prometheus", help="where the rules run"
    )
    parser.add_argument("--interval", default="5s", help="scrape and rule evaluation interval")
    parser.add_argument("--slo", type=Path, default=REPO / "slo", help="SLO specs to build")
    parser.add_argument("--workdir", type=Path, default=Path(".obskit-demo"), help="logs, rules")
    parser.add_argument(
        "--free-ports", action="store_true", help="use free ports instead of 8000/9090/…"
    )
    args = parser.parse_args(argv)
    if not 0 < args.rate <= MAX_RATE:
        parser.error(f"--rate must be in (0, {MAX_RATE:g}]")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo until Ctrl-C, SIGTERM or ``--duration``; always stop every process."""
    args = parse_args(argv)
    marker = args.workdir / ".obskit-demo"
    if args.workdir.exists() and any(args.workdir.iterdir()) and not marker.exists():
        print(f"{args.workdir} exists and is not a demo folder; pick another --workdir")
        return 2
    shutil.rmtree(args.workdir, ignore_errors=True)  # the previous run's logs and rules
    args.workdir.mkdir(parents=True)
    marker.touch()
    args.workdir = args.workdir.resolve()
    demo = Demo(args)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        demo.stopping.set()

    # Ctrl-C, `kill`, or the terminal closing: all end in the same clean stop.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        demo.start()
        if not demo.stopping.is_set():
            demo.print_urls()
            loader = threading.Thread(target=demo.load, name="demo-load")
            loader.start()
            demo.stopping.wait(args.duration)
            demo.stopping.set()
            loader.join(timeout=15)
    finally:
        demo.stop()
    print(f"obskit demo stopped ({demo.sent} requests sent); logs in {args.workdir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
