"""Counts add up exactly across worker processes (gunicorn with two uvicorn workers), and every
worker exports its spans.  The same assertions hold, trivially spread, for one-worker servers."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from tests.runtime_e2e._service import (
    GUNICORN_2_PRELOAD,
    GUNICORN_2_UVICORN,
    UVICORN_2_WORKERS,
    Kind,
    Service,
    run_service,
)
from tests.support import OtlpReceiver, assert_all_json, new_traceparent

from obskit import conventions

pytestmark = pytest.mark.e2e

_BATCH = 60
_MAX_REQUESTS = 600


def _one_request(base_url: str) -> tuple[int, str]:
    """One request on a fresh connection (so the kernel may hand it to any worker)."""
    parent = new_traceparent()
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        response = client.get("/whoami", headers={"traceparent": parent.header})
    assert response.status_code == 200
    return int(response.json()["pid"]), parent.trace_id


def test_request_counts_equal_requests_sent_across_workers(
    service: Service, session_receiver: OtlpReceiver
) -> None:
    """Requests are sent on fresh connections until every worker has served some; the scraped
    request count then equals exactly the number sent, the active-requests gauge returns to 0,
    and spans arrive from every worker process."""
    _assert_counts_and_spans(service, session_receiver)


@pytest.mark.parametrize("variant", [GUNICORN_2_PRELOAD, UVICORN_2_WORKERS], ids=lambda k: k.id)
def test_counts_and_spans_with_preload_and_uvicorn_workers(
    variant: Kind, otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """The same exact counts and spans from every worker when gunicorn imports the app in its
    master before forking (``--preload``: obskit's threads and state cross a fork) and under
    uvicorn's own ``--workers 2`` supervisor (spawned workers); every line of the run, the
    supervising process's included, is JSON (with ``--preload`` by itself, under uvicorn's
    supervisor with the log config docs/runtime.md gives)."""
    with run_service(variant, otlp_endpoint=otlp_receiver.endpoint, tmp_dir=tmp_path) as service:
        _assert_counts_and_spans(service, otlp_receiver)
    assert_all_json(service.proc.texts(), what=f"{variant.id} stdout+stderr")


def _assert_counts_and_spans(service: Service, receiver: OtlpReceiver) -> None:
    route = {conventions.LABEL_ROUTE: service.kind.route("whoami")}
    before = service.scrape().value(conventions.HTTP_DURATION_COUNT, **route)

    pids: dict[int, str] = {}  # worker pid -> one trace id it served
    sent = 0
    with ThreadPoolExecutor(4) as pool:
        while sent < _MAX_REQUESTS:
            for pid, trace_id in pool.map(lambda _: _one_request(service.base_url), range(_BATCH)):
                pids.setdefault(pid, trace_id)
            sent += _BATCH
            if len(pids) >= service.kind.workers:
                break
    assert len(pids) == service.kind.workers, f"{len(pids)} workers served {sent} requests"
    if service.kind.workers > 1:
        assert service.proc.pid not in pids, "the supervising process must not serve requests"

    expected = before + sent
    result = service.wait_scrape(
        lambda s: s.value(conventions.HTTP_DURATION_COUNT, **route) >= expected,
        timeout=15,
        what=f"{expected} requests counted on {route}",
    )
    assert result.value(conventions.HTTP_DURATION_COUNT, **route) == expected
    buckets = result.find(conventions.HTTP_DURATION_BUCKET, le="+Inf", **route)
    assert sum(s.value for s in buckets) == expected

    deadline = time.monotonic() + 10
    while (active := service.scrape().value(conventions.ACTIVE_REQUESTS)) != 0:
        assert time.monotonic() < deadline, f"{conventions.ACTIVE_REQUESTS} stuck at {active}"
        time.sleep(0.1)  # polling, bounded by the deadline

    info = result.find(conventions.TARGET_INFO)
    assert any(
        s.labels.get(conventions.TARGET_INFO_LABEL_SERVICE) == service.kind.service_name
        for s in info
    ), info

    for pid, trace_id in pids.items():
        # A span of each worker arrives (after a fork too), and says which process made it.
        [span] = receiver.wait_for_trace(trace_id, timeout=15)
        assert span.resource.get("process.pid") == pid, (
            f"a span made by worker {pid} says process.pid={span.resource.get('process.pid')}"
            f" (server pid {service.proc.pid}): the resource was not rebuilt after the fork"
        )


def _send_until(service: Service, done: Callable[[set[int]], bool]) -> tuple[set[int], int]:
    """Send batches of requests on fresh connections until ``done(pids seen)``; return the pids
    and the number of requests sent (every one answered 200)."""
    pids: set[int] = set()
    sent = 0
    with ThreadPoolExecutor(4) as pool:
        while sent < _MAX_REQUESTS:
            pids.update(
                pid for pid, _ in pool.map(lambda _: _one_request(service.base_url), range(_BATCH))
            )
            sent += _BATCH
            if done(pids):
                break
    assert done(pids), f"workers seen after {sent} requests: {sorted(pids)}"
    return pids, sent


def test_counts_survive_a_killed_worker(otlp_receiver: OtlpReceiver, tmp_path: Path) -> None:
    """gunicorn with two uvicorn workers: SIGKILL one worker (the metrics server may be in it);
    gunicorn starts a new one, the metrics endpoint answers again and the count still equals
    every request sent, the dead worker's included."""
    with run_service(
        GUNICORN_2_UVICORN, otlp_endpoint=otlp_receiver.endpoint, tmp_dir=tmp_path
    ) as service:
        route = {conventions.LABEL_ROUTE: service.kind.route("whoami")}
        first, sent = _send_until(service, lambda pids: len(pids) >= 2)
        service.wait_scrape(
            lambda s: s.value(conventions.HTTP_DURATION_COUNT, **route) >= sent, what=f"{sent}"
        )
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        # Requests go on (to the survivor, then also to the replacement) until a new worker
        # has served some.
        later, more = _send_until(service, lambda pids: bool(pids - first))
        assert victim not in later
        expected = sent + more
        result = service.wait_scrape(
            lambda s: s.value(conventions.HTTP_DURATION_COUNT, **route) >= expected,
            timeout=20,
            what=f"{expected} requests counted after the restart",
        )
        assert result.value(conventions.HTTP_DURATION_COUNT, **route) == expected
