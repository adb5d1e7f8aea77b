"""Traffic with a known outcome for the example services, sent over real HTTP on 127.0.0.1.

Every request names its outcome with the example apps' ``x-demo-fail`` / ``x-demo-slow`` headers
(the apps run with their random rates at 0), so the exact error ratio and slow share the
Prometheus rules should compute are known in advance.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Call:
    """One request and the outcome the test forces: ``fail`` → a 5xx, ``slow`` → > 0.5 s,
    ``throttle`` → a 429."""

    method: str
    path: str
    route: str
    fail: bool = False
    slow: bool = False
    throttle: bool = False
    json: dict[str, str] | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The example apps' headers forcing this call's outcome."""
        forced = {"fail": self.fail, "slow": self.slow, "throttle": self.throttle}
        return {f"x-demo-{name}": str(value).lower() for name, value in forced.items()}

    @property
    def status(self) -> int:
        """The status code the example app answers this call with."""
        if self.route == "/search":
            return 502 if self.fail else 200
        if self.throttle:
            return 429
        return 500 if self.fail else 200


def cart_get(n: int, *, fail: bool = False) -> Call:
    """``GET /cart/{id}``."""
    return Call("GET", f"/cart/c{n}", "/cart/{id}", fail=fail)


def cart_put(n: int) -> Call:
    """``PUT /cart/{id}``."""
    return Call("PUT", f"/cart/c{n}", "/cart/{id}", json={"sku": "sku-2"})


def checkout(n: int, *, slow: bool = False, throttle: bool = False) -> Call:
    """``POST /checkout``."""
    return Call(
        "POST", "/checkout", "/checkout", slow=slow, throttle=throttle, json={"cart_id": f"c{n}"}
    )


def products() -> Call:
    """``GET /products`` (outside both SLOs)."""
    return Call("GET", "/products", "/products")


def search(n: int, *, fail: bool = False) -> Call:
    """``GET /search`` on the search service."""
    return Call("GET", f"/search?q=sku-{n % 3}", "/search", fail=fail)


#: The latency SLO's threshold (``slo/checkout.yaml``): a call not forced slow may still take
#: longer on a starved machine, and is then reported in ``send``'s ``stalled``.
SLOW_S = 0.5


def send(
    base_url: str,
    calls: list[Call],
    *,
    concurrency: int = 8,
    stalled: list[Call] | None = None,
) -> Counter[tuple[str, str, int]]:
    """Send ``calls`` concurrently; check each answers as forced; count ``(method, route, status)``.

    ``stalled`` (when given) receives every call not forced slow whose round trip took longer
    than :data:`SLOW_S`: the server may have measured it slow too (its own time is shorter than
    the client's, so a call the client saw answered sooner cannot have been).

    Raises:
        AssertionError: a response's status is not the one the call forced.
    """

    def one(client: httpx.Client, call: Call) -> tuple[str, str, int]:
        began = time.monotonic()
        response = client.request(call.method, call.path, json=call.json, headers=call.headers)
        if stalled is not None and not call.slow and time.monotonic() - began > SLOW_S:
            stalled.append(call)  # list.append is atomic: safe from the pool's threads
        if response.status_code != call.status:
            raise AssertionError(f"{call}: HTTP {response.status_code}: {response.text[:200]}")
        return call.method, call.route, response.status_code

    with (
        httpx.Client(base_url=base_url, timeout=15) as client,
        ThreadPoolExecutor(concurrency) as pool,
    ):
        return Counter(pool.map(lambda call: one(client, call), calls))


@contextmanager
def background_load(
    targets: list[tuple[str, list[Call]]], *, rate: float = 20.0, limit_s: float = 120.0
) -> Iterator[Counter[tuple[str, str, int | str]]]:
    """Keep sending the calls (round-robin per target) at up to ``rate`` requests/s in a thread.

    Bounded: it stops when the block exits or after ``limit_s`` seconds, whichever comes first.
    Yields the running count of sent ``(base_url, route, status)``; a request that failed at the
    HTTP level is counted with the exception's repr as its status.
    """
    sent: Counter[tuple[str, str, int | str]] = Counter()
    stop = threading.Event()

    def run() -> None:
        deadline = time.monotonic() + limit_s
        with httpx.Client(timeout=10) as client:
            i = 0
            while not stop.is_set() and time.monotonic() < deadline:
                for base_url, calls in targets:
                    call = calls[i % len(calls)]
                    try:
                        response = client.request(
                            call.method, base_url + call.path, json=call.json, headers=call.headers
                        )
                    except httpx.HTTPError as exc:  # counted, and the load goes on
                        sent[(base_url, call.route, repr(exc))] += 1
                        continue
                    sent[(base_url, call.route, response.status_code)] += 1
                i += 1
                stop.wait(len(targets) / rate)

    thread = threading.Thread(target=run, name="e2e-background-load", daemon=True)
    thread.start()
    try:
        yield sent
    finally:
        stop.set()
        thread.join(timeout=15)
