"""Two rule engines side by side on the same services, each delivering through Alertmanager.

``engines`` runs, all on 127.0.0.1 with free ports:

* the rules ``obskit slo build`` generates from ``slo/`` (alert ``for:`` shortened, see
  :mod:`tests.e2e._spec`), built by the real CLI;
* the example services ``examples/checkout`` and ``examples/search`` under uvicorn;
* **prometheus**: Debian's Prometheus scraping both every second, evaluating the rules every
  second, its ``alerting:`` pointed at its own Alertmanager;
* **victoriametrics**: Debian's ``victoria-metrics`` single node, ``vmagent`` scraping the same
  services every second into it, ``vmalert`` evaluating the same rules every second against it
  (recordings written back by remote write) and notifying its own Alertmanager;
* per engine, a real Alertmanager whose route tree sends ``severity="page"`` to a ``page``
  webhook and ``severity="ticket"`` to a ``ticket`` webhook (:func:`severity_routes`); one
  :class:`WebhookReceiver` in the test process records both engines' notifications under
  ``/<engine>/<receiver>``.

Timeline (both engines see exactly the same traffic, since they scrape the same processes):

1. *warm-up*, before any engine starts: the traffic mix once, so every counter series exists
   and its first sample is a baseline on both engines (neither ``rate()`` counts it);
2. *idle* (search) and 3. *good* (checkout), side by side: the search SLO sees no request at
   all — every ratio 0/0, its budget remaining must read 1 on both engines — while checkout gets
   only successful, fast requests — error ratios 0; nothing may be pending or delivered;
4. *errors*: the mix ten times on both services, with its known failures and slow checkouts;
   the alerts must arrive, and only from now on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from examples.alertmanager import Alertmanager
from examples.stack import Prometheus
from examples.vmstack import VictoriaMetricsStack
from tests.support import free_port
from tests.support._alertmanager import WebhookReceiver, severity_routes

from obskit import conventions as c

from . import _spec
from . import _traffic as t
from .conftest import Service, start_service, traffic_mix

ENGINES = ("prometheus", "victoriametrics")
#: Every SLO of ``slo/``: (service, slo).
SLOS = (("checkout", "availability"), ("checkout", "latency"), ("search", "query-errors"))

Engine = Prometheus | VictoriaMetricsStack


@dataclass
class EngineRun:
    """The running engines and what they were shown, phase by phase."""

    servers: dict[str, Engine]
    alertmanagers: dict[str, Alertmanager]
    webhooks: WebhookReceiver
    build_dir: Path
    #: Every call sent after the engines started (good and error phases): what they count.
    counted: list[t.Call]
    started_at: float
    errors_at: float  # wall clock: just before the first request of the error phase
    #: Per engine, per (service, slo): the budget remaining and the 5m error ratio recorded in
    #: the idle and good phases (``None`` when absent).
    idle_budget: dict[str, dict[tuple[str, str], float | None]] = field(default_factory=dict)
    good_ratio: dict[str, dict[tuple[str, str], float | None]] = field(default_factory=dict)
    #: Per engine, the alerts it held (pending or firing) at the end of the good phase.
    alerts_before_errors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Counted calls not forced slow that the client saw take longer than the latency
    #: threshold (a starved machine): each may be recorded slow (``_traffic.send``).
    stalled: list[t.Call] = field(default_factory=list)

    @property
    def rule_files(self) -> list[Path]:
        """The rule files both engines load."""
        return sorted((self.build_dir / "rules").glob("*.yaml"))


def _sel(service: str, slo: str) -> str:
    return f'{{{c.SLO_LABEL_SERVICE}="{service}",{c.SLO_LABEL_SLO}="{slo}"}}'


def value(server: Engine, expr: str) -> float | None:
    """The single value of an instant query now, or ``None`` when it returns nothing."""
    result = server.query(expr)
    if len(result) > 1:
        raise AssertionError(f"{expr}: several series {result}")
    return float(result[0]["value"][1]) if result else None


def poll(what: str, check: Callable[[], bool], timeout: float, servers: dict[str, Engine]) -> None:
    """Wait until ``check()`` holds; on timeout, fail with the engines' logs' tails."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            logs = "\n".join(
                s.log()[-3000:] for s in servers.values() if isinstance(s, VictoriaMetricsStack)
            )
            raise AssertionError(f"{what}: not within {timeout:.0f}s\n{logs}")
        time.sleep(0.3)


def _count(job: str) -> str:
    return f'sum({c.HTTP_DURATION_COUNT}{{job="{job}"}})'


def _wait_counted(servers: dict[str, Engine], counts: dict[str, int]) -> None:
    """Wait until every engine holds exactly ``counts`` (job → requests sent so far)."""
    for name, server in servers.items():
        for job, expected in counts.items():
            poll(
                f"{name}: {job} requests == {expected}",
                lambda server=server, job=job, n=expected: value(server, _count(job)) == n,
                60,
                servers,
            )


def _wait_evaluated_after(
    servers: dict[str, Engine], after: float, slos: tuple[tuple[str, str], ...]
) -> None:
    """Wait until every engine recorded the 5m ratio of each of ``slos`` from data later than
    ``after`` (each SLO on its own: on VictoriaMetrics a brand-new series is searchable only
    ~9 s after its first sample, so one SLO's ratio may exist while another's does not yet).

    vmalert reads what VictoriaMetrics made visible (``-search.latencyOffset``, 2 s here) and
    the 5m ratio reads two recordings vmalert wrote (flushed every 1 s) one evaluation earlier,
    so its results trail Prometheus' by a few seconds: it must have *recorded* later than
    ``after`` + that lag (2 s + 2 x (1 s interval + 1 s flush)).
    """
    lag = {"prometheus": 1.0, "victoriametrics": 6.0}
    for name, server in servers.items():
        for slo in slos:
            expr = f"timestamp({c.error_ratio_rule('5m')}{_sel(*slo)})"
            poll(
                f"{name}: {slo} 5m ratio recorded after {after}",
                lambda server=server, name=name, expr=expr: (
                    (value(server, expr) or 0) > after + lag[name]
                ),
                60,
                servers,
            )


def _active_alerts(server: Engine) -> list[dict[str, Any]]:
    # vmalert answers `"alerts": null` when it holds none.
    alerts: list[dict[str, Any]] = server.api("alerts")["alerts"] or []
    return alerts


#: The SLO left idle (not a single request) until the error phase.
IDLE_SLO = ("search", "query-errors")
#: The SLOs shown successful requests only before the error phase.
GOOD_SLOS = tuple(slo for slo in SLOS if slo != IDLE_SLO)


def good_calls() -> list[t.Call]:
    """Successful, fast requests on every checkout route of the mix."""
    checkout, _ = traffic_mix(1, seed=3)
    return [call for call in checkout if not (call.fail or call.slow or call.throttle)]


def _send_both(
    checkout: Service,
    checkout_calls: list[t.Call],
    search: Service,
    search_calls: list[t.Call],
    stalled: list[t.Call] | None = None,
) -> None:
    """Send both services their calls at the same time (each checks every status); calls that
    took longer than the latency threshold unforced go to ``stalled``."""
    with ThreadPoolExecutor(2) as pool:
        sent = [
            pool.submit(t.send, checkout.url, checkout_calls, stalled=stalled),
            pool.submit(t.send, search.url, search_calls, stalled=stalled),
        ]
        for future in sent:
            future.result()


def _in_parallel(*starts: Callable[[], Any]) -> list[Any]:
    """Run the start-up calls side by side (each waits on its own server); all or an error."""
    with ThreadPoolExecutor(len(starts)) as pool:
        futures = [pool.submit(start) for start in starts]
        return [future.result() for future in futures]


def start_engines(tmp: Path, prometheus_bin: str, tools: dict[str, str]) -> Iterator[EngineRun]:
    """The generator behind the ``engines`` fixture (see the module docstring)."""
    began = time.monotonic()

    def phase(what: str) -> None:  # shown with a failing test's output: where the time went
        print(f"[engines] +{time.monotonic() - began:5.1f}s {what}", flush=True)

    _spec.fast_alert_specs(tmp / "slo")
    _spec.build(tmp / "slo", tmp / "build")
    rule_files = sorted((tmp / "build" / "rules").glob("*.yaml"))
    webhooks = WebhookReceiver().start()
    services: list[Service] = []
    alertmanagers: dict[str, Alertmanager] = {}
    servers: dict[str, Engine] = {}
    env = {"OTEL_TRACES_EXPORTER": "none"}
    try:
        # Created first, started side by side: whatever starts is stopped in `finally`.
        for name in ENGINES:
            hooks = {r: f"{webhooks.url}/{name}/{r}" for r in ("page", "ticket", "unrouted")}
            alertmanagers[name] = Alertmanager(
                severity_routes(hooks),
                binary=tools["prometheus-alertmanager"],
                workdir=tmp / f"am-{name}",
            )
        checkout, search, *_ = _in_parallel(
            lambda: start_service("checkout", "checkout", env),
            lambda: start_service("search", "search", env),
            *[am.start for am in alertmanagers.values()],
        )
        services += [checkout, search]
        phase("services and Alertmanagers started")
        # 1. warm-up, before the engines' first scrape.
        warm_checkout, warm_search = traffic_mix(1, seed=1)
        _send_both(checkout, warm_checkout, search, warm_search)
        counts = {"checkout": len(warm_checkout), "search": len(warm_search)}

        targets = {
            "checkout": [f"127.0.0.1:{checkout.metrics_port}"],
            "search": [f"127.0.0.1:{search.metrics_port}"],
        }
        servers["prometheus"] = Prometheus(
            free_port(),
            targets,
            rule_files,
            binary=prometheus_bin,
            workdir=tmp / "prometheus",
            alertmanagers=[f"127.0.0.1:{alertmanagers['prometheus'].port}"],
        )
        servers["victoriametrics"] = VictoriaMetricsStack(
            targets,
            rule_files,
            notifier_urls=[alertmanagers["victoriametrics"].url],
            binaries=tools,
            workdir=tmp / "vm",
        )
        _in_parallel(*[server.start for server in servers.values()])
        started_at = time.time()
        phase("engines started")
        run = EngineRun(servers, alertmanagers, webhooks, tmp / "build", [], started_at, 0.0)
        _wait_counted(servers, counts)
        phase("warm-up counted")

        # 2 and 3 side by side: search stays idle while checkout gets successful requests only.
        good = good_calls()
        t.send(checkout.url, good, stalled=run.stalled)
        run.counted += good
        counts["checkout"] += len(good)
        _wait_counted(servers, counts)
        phase("good requests counted")
        _wait_evaluated_after(servers, time.time(), GOOD_SLOS)
        budget = f"{c.RULE_ERROR_BUDGET_REMAINING}{_sel(*IDLE_SLO)}"
        for name, server in servers.items():
            poll(
                f"{name}: {budget} recorded while idle",
                lambda server=server: value(server, budget) is not None,
                60,
                servers,
            )
            run.idle_budget[name] = {IDLE_SLO: value(server, budget)}
            ratio = c.error_ratio_rule("5m")
            run.good_ratio[name] = {slo: value(server, f"{ratio}{_sel(*slo)}") for slo in GOOD_SLOS}
            run.alerts_before_errors[name] = _active_alerts(server)
        phase("idle budget and good ratios recorded")

        # 4. errors: the measured mix, ten times.
        run.errors_at = time.time()
        measured_checkout, measured_search = traffic_mix(10, seed=2)
        _send_both(checkout, measured_checkout, search, measured_search, run.stalled)
        run.counted += measured_checkout + measured_search
        counts["checkout"] += len(measured_checkout)
        counts["search"] += len(measured_search)
        _wait_counted(servers, counts)
        phase("error phase counted")
        _wait_evaluated_after(servers, time.time(), SLOS)
        phase("error phase evaluated")
        yield run
    finally:
        for server in servers.values():
            server.stop()
        for am in alertmanagers.values():
            am.stop()
        for service in services:
            service.process.stop()
        webhooks.stop()


@pytest.fixture(scope="session")
def engines(
    prometheus_bin: str,
    engine_tools: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EngineRun]:
    """Prometheus and VictoriaMetrics with Alertmanager delivery, after the four phases."""
    yield from start_engines(tmp_path_factory.mktemp("engines"), prometheus_bin, engine_tools)
