"""A dead or hung OTLP endpoint costs no failed and no slow request, and the loss is visible."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.runtime_e2e._service import UVICORN, Kind, Service, run_service
from tests.support import BlackHole, closed_port

from obskit import conventions

pytestmark = pytest.mark.e2e

_REQUESTS = 40
#: Generous for a shared 2-core machine; a request blocked on the exporter would take the
#: exporter's timeout (1 s here) or more.
_MAX_LATENCY_S = 0.75
_DROPPED_EVENT = "spans dropped: OTLP endpoint unreachable or slow"


def _timed_requests(service: Service, count: int) -> list[float]:
    latencies = []
    with service.client() as client:
        for i in range(count):
            started = time.perf_counter()
            response = client.get(f"/items/{i}")
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, f"request {i} failed: {response.status_code}"
    return latencies


def _dropped(service: Service) -> float:
    return service.scrape().value(conventions.SPANS_DROPPED)


def _wait(condition: Callable[[], bool], timeout: float, failure: str, service: Service) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            pytest.fail(
                f"{failure} (after {timeout:.0f}s); output tail:\n{service.proc.output_tail(15)}"
            )
        time.sleep(0.2)  # polling, bounded by the deadline


def _check_unharmed_and_visible(service: Service) -> None:
    latencies = _timed_requests(service, _REQUESTS)

    # The loss is visible: the dropped-spans counter moves, or the one warning line is logged.
    _wait(
        lambda: (
            _dropped(service) > 0
            or any(r.get("event") == _DROPPED_EVENT for r in service.records())
        ),
        20,
        f"no sign of the failed export: {conventions.SPANS_DROPPED} is 0 and no "
        f"{_DROPPED_EVENT!r} line",
        service,
    )
    # Two more batches fail while serving goes on; they are counted, not logged line by line.
    for _ in range(2):
        before = _dropped(service)
        latencies += _timed_requests(service, 10)
        _wait(
            lambda before=before: _dropped(service) > before,
            20,
            f"{conventions.SPANS_DROPPED} did not count the next failed batch (stuck at {before})",
            service,
        )

    assert max(latencies) < _MAX_LATENCY_S, f"slowest request {max(latencies):.3f}s"
    assert statistics.median(latencies) < 0.1, f"median {statistics.median(latencies):.3f}s"
    # One warning per process, not one (or two) per failed batch.
    noisy = [r for r in service.records() if r.get("level") in ("warning", "error", "critical")]
    assert len(noisy) <= 2 * service.kind.workers, "\n".join(str(r)[:300] for r in noisy)


def test_closed_otlp_port_costs_no_failed_or_slow_request(kind: Kind, tmp_path: Path) -> None:
    """With the OTLP endpoint on a closed port, every request succeeds quickly, the failed exports
    show as the dropped-spans counter or one warning line, and three failed batches do not give
    a log line each."""
    endpoint = f"http://127.0.0.1:{closed_port()}"
    with run_service(
        kind,
        otlp_endpoint=endpoint,
        tmp_dir=tmp_path,
        extra_env={"OTEL_EXPORTER_OTLP_TIMEOUT": "1000"},
    ) as service:
        _check_unharmed_and_visible(service)


def test_hung_otlp_endpoint_costs_no_slow_request(tmp_path: Path) -> None:
    """With an OTLP endpoint that accepts connections and never answers (a hung collector),
    requests under uvicorn stay fast: export waits happen off the request path."""
    with (
        BlackHole() as hole,
        run_service(
            UVICORN,
            otlp_endpoint=hole.endpoint,
            tmp_dir=tmp_path,
            extra_env={"OTEL_EXPORTER_OTLP_TIMEOUT": "1000"},
        ) as service,
    ):
        _check_unharmed_and_visible(service)
        assert hole.accepted >= 1, "the exporter never tried the endpoint"
