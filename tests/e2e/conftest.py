"""The end-to-end stack, started once for the tests of this folder.

``shop`` runs, all on 127.0.0.1 with free ports:

* the rules and dashboards ``obskit slo build`` generates from ``slo/`` (alert ``for:`` shortened,
  see :mod:`tests.e2e._spec`), built by the real CLI into a temporary folder;
* the example services ``examples/checkout`` and ``examples/search`` under uvicorn, exporting
  spans to a test OTLP/HTTP receiver;
* Debian's Prometheus (``examples/stack.py``) scraping both every second, evaluating the
  generated rules every second, exemplar storage on;

then sends a warm-up: the traffic mix once, so every counter series exists and has been scraped
once before the measured traffic (``rate()`` cannot count the increments of a series' first
sample), then the measured traffic — the same mix ten times, with a known error ratio and slow
share — and waits until Prometheus has scraped the final counts and evaluated the rules on them.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from examples.stack import Prometheus
from tests.support import OtlpReceiver, ServerProcess, free_port, uvicorn_command

from obskit import conventions as c

from . import _spec
from . import _traffic as t

#: The traffic mix, per unit of scale.  Availability SLO (routes /cart/{id} and /checkout, errors
#: 5xx and 429): 2 failed (500) of 20 GET /cart/{id}, 2 PUT /cart/{id} that succeed, and 16
#: POST /checkout of which 1 is throttled (429) → 3 / 38.  Latency SLO (every POST /checkout,
#: whatever its status, under 0.5 s): 3 slow of 16.  Search (backend query errors): 1 of 10.
#: /products is outside every SLO.
CART_GETS, CART_FAILS, CART_PUTS = 20, 2, 2
CHECKOUTS, CHECKOUTS_SLOW, CHECKOUTS_THROTTLED = 16, 3, 1
SEARCHES, SEARCH_FAILS = 10, 1
PRODUCTS = 3
#: The warm-up sends the mix once, the measured traffic MEASURED_SCALE times.  The same
#: proportions matter: ``rate()`` extrapolates a counter towards zero by an amount that depends on
#: the series' first value relative to its increase; with every series' first value exactly
#: 1/MEASURED_SCALE of its increase, numerator and denominator are extrapolated alike and the
#: ratio comes out exact.
MEASURED_SCALE = 10

EXPECTED_AVAILABILITY_ERROR_RATIO = (CART_FAILS + CHECKOUTS_THROTTLED) / (
    CART_GETS + CART_PUTS + CHECKOUTS
)
EXPECTED_LATENCY_ERROR_RATIO = CHECKOUTS_SLOW / CHECKOUTS
EXPECTED_SEARCH_ERROR_RATIO = SEARCH_FAILS / SEARCHES

APP_ENV = {
    "OBSKIT_METRICS_ADDR": "127.0.0.1",
    "OBSKIT_LOG_FORMAT": "json",
    "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: spans reach the receiver quickly
    # No dice: every failure and slow response is forced by the test's headers.
    "CHECKOUT_ERROR_RATE": "0",
    "CHECKOUT_SLOW_RATE": "0",
    "CHECKOUT_THROTTLE_RATE": "0",
    "SEARCH_ERROR_RATE": "0",
}


@dataclass
class Service:
    """One example service: its process, its base URL and its metrics port."""

    process: ServerProcess
    url: str
    metrics_port: int


@dataclass
class Shop:
    """The running stack and what was sent to it."""

    prometheus: Prometheus
    checkout: Service
    search: Service
    receiver: OtlpReceiver
    build_dir: Path
    started_at: float  # wall clock: Prometheus ready
    measured_at: float  # wall clock: the measured traffic scraped and evaluated, nothing after
    sent: Counter[tuple[str, str, int]]  # (method, route, status) of every request, warm-up too

    @property
    def rule_files(self) -> list[Path]:
        """The rule files the build wrote."""
        return sorted((self.build_dir / "rules").glob("*.yaml"))


def start_service(module: str, name: str, env: dict[str, str]) -> Service:
    """Run ``examples.<module>.app:app`` under uvicorn and wait for its two ports."""
    port, metrics_port = free_port(), free_port()
    process = ServerProcess(
        uvicorn_command(f"examples.{module}.app:app", port),
        env={**APP_ENV, **env, "OBSKIT_METRICS_PORT": str(metrics_port)},
        cwd=_spec.REPO,
        name=name,
    ).start()
    process.wait_for_port(port)
    process.wait_for_port(metrics_port)
    return Service(process, f"http://127.0.0.1:{port}", metrics_port)


def wait_for_value(prom: Prometheus, expr: str, expected: float, timeout: float = 30.0) -> None:
    """Poll an instant query until its single value equals ``expected`` (bounded)."""
    deadline = time.monotonic() + timeout
    seen: object = None
    while time.monotonic() < deadline:
        result = prom.query(expr)
        seen = [r["value"][1] for r in result]
        if len(result) == 1 and float(result[0]["value"][1]) == expected:
            return
        time.sleep(0.25)
    raise AssertionError(f"{expr}: expected {expected}, Prometheus still has {seen}")


def traffic_mix(scale: int, seed: int) -> tuple[list[t.Call], list[t.Call]]:
    """The checkout and search calls of the mix, ``scale`` times, shuffled reproducibly."""
    checkout = (
        [t.cart_get(i, fail=i < CART_FAILS * scale) for i in range(CART_GETS * scale)]
        + [t.cart_put(i) for i in range(CART_PUTS * scale)]
        + [
            t.checkout(
                i,
                slow=i < CHECKOUTS_SLOW * scale,
                # the last ones: a throttled checkout is refused at once, never slow
                throttle=i >= (CHECKOUTS - CHECKOUTS_THROTTLED) * scale,
            )
            for i in range(CHECKOUTS * scale)
        ]
        + [t.products() for _ in range(PRODUCTS * scale)]
    )
    search = [t.search(i, fail=i < SEARCH_FAILS * scale) for i in range(SEARCHES * scale)]
    rng = random.Random(seed)  # interleave failures, slow and good requests
    rng.shuffle(checkout)
    rng.shuffle(search)
    return checkout, search


def _count(job: str) -> str:
    return f'sum({c.HTTP_DURATION_COUNT}{{job="{job}"}})'


def _wait_evaluated(prom: Prometheus, after: float, timeout: float = 20.0) -> None:
    """Wait until every SLO's 5m error ratio was recorded by an evaluation later than ``after``."""
    expr = f"min(timestamp({c.error_ratio_rule('5m')}))"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = prom.query(expr)
        if result and float(result[0]["value"][1]) > after:
            return
        time.sleep(0.25)
    raise AssertionError(f"the rules were not evaluated after {after} within {timeout}s")


@pytest.fixture(scope="session")
def shop(prometheus_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """The whole stack with the measured traffic sent and evaluated (see the module docstring)."""
    tmp = tmp_path_factory.mktemp("e2e")
    _spec.fast_alert_specs(tmp / "slo")
    _spec.build(tmp / "slo", tmp / "build")
    receiver = OtlpReceiver().start()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
    services: list[Service] = []
    prom: Prometheus | None = None
    try:
        checkout = start_service("checkout", "checkout", env)
        services.append(checkout)
        search = start_service("search", "search", env)
        services.append(search)

        warm_checkout, warm_search = traffic_mix(1, seed=1)
        sent = t.send(checkout.url, warm_checkout) + t.send(search.url, warm_search)

        (tmp / "prometheus").mkdir()
        prom = Prometheus(
            free_port(),
            {
                "checkout": [f"127.0.0.1:{checkout.metrics_port}"],
                "search": [f"127.0.0.1:{search.metrics_port}"],
            },
            sorted((tmp / "build" / "rules").glob("*.yaml")),
            binary=prometheus_bin,
            workdir=tmp / "prometheus",
        ).start()
        started_at = time.time()
        # Every series exists in Prometheus before the measured traffic starts.
        wait_for_value(prom, _count("checkout"), len(warm_checkout))
        wait_for_value(prom, _count("search"), len(warm_search))

        measured_checkout, measured_search = traffic_mix(MEASURED_SCALE, seed=2)
        sent += t.send(checkout.url, measured_checkout)
        sent += t.send(search.url, measured_search)
        wait_for_value(prom, _count("checkout"), len(warm_checkout) + len(measured_checkout))
        wait_for_value(prom, _count("search"), len(warm_search) + len(measured_search))
        _wait_evaluated(prom, time.time())

        yield Shop(
            prometheus=prom,
            checkout=checkout,
            search=search,
            receiver=receiver,
            build_dir=tmp / "build",
            started_at=started_at,
            measured_at=time.time(),
            sent=sent,
        )
    finally:
        if prom is not None:
            prom.stop()
        for service in services:
            service.process.stop()
        receiver.stop()


# The two-engine stack (Prometheus and VictoriaMetrics, Alertmanager delivery): imported last,
# since tests/e2e/_engines.py reads the helpers above.
from ._engines import engines  # noqa: E402, F401
