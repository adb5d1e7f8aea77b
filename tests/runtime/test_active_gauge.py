"""The active-requests gauge: counted without ``Gauge.inc`` in one process, exact under threads,
and through the child's public ``inc`` when prometheus-client runs in multiprocess mode."""

from __future__ import annotations

import sys
import threading

import pytest
from prometheus_client import CollectorRegistry

from obskit import conventions as c
from obskit._runtime.metrics.instruments import Metrics
from obskit.testing import IsolatedRuntime, MetricsReader


def _metrics(rt: IsolatedRuntime) -> tuple[Metrics, CollectorRegistry]:
    registry = CollectorRegistry()
    return Metrics(rt.config, registry), registry


def _active(registry: CollectorRegistry, method: str = "GET") -> float | None:
    return MetricsReader(registry).value(c.ACTIVE_REQUESTS, http_request_method=method)


def test_counted_gauge_reads_in_flight_requests_and_reading_does_not_move_it(
    rt: IsolatedRuntime,
) -> None:
    """Starts minus ends, per (method, scheme), the same however often it is scraped."""
    metrics, registry = _metrics(rt)
    start, end = metrics.active_calls("GET", "http")
    assert metrics.active_calls("GET", "http") == (start, end)  # one pair per label set
    start()
    start()
    assert [_active(registry) for _ in range(3)] == [2.0, 2.0, 2.0]
    post_start, post_end = metrics.active_calls("POST", "http")
    post_start()
    end()
    assert _active(registry) == 1.0
    assert _active(registry, "POST") == 1.0
    end()
    post_end()
    assert [_active(registry), _active(registry, "POST")] == [0.0, 0.0]


def test_counted_gauge_is_exact_under_threads_and_never_negative(rt: IsolatedRuntime) -> None:
    """8 threads start and end 2,000 requests each while another thread scrapes: every read is
    between 0 and 8, and the gauge ends at exactly 0."""
    metrics, registry = _metrics(rt)
    start, end = metrics.active_calls("GET", "http")
    stop = threading.Event()
    reads: list[float] = []

    def scrape() -> None:
        while not stop.is_set():
            value = _active(registry)
            assert value is not None
            reads.append(value)

    def serve() -> None:
        for _ in range(2000):
            start()
            end()

    # Switch threads as often as the interpreter allows, so that a scrape is interrupted
    # between its reads of the two counts (a read that is not a consistent snapshot then reports
    # every request another thread ran meanwhile as in flight).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        scraper = threading.Thread(target=scrape)
        scraper.start()
        workers = [threading.Thread(target=serve) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        stop.set()
        scraper.join()
    finally:
        sys.setswitchinterval(interval)
    assert reads
    assert all(0 <= value <= 8 for value in reads), sorted(set(reads))
    assert _active(registry) == 0.0


def test_multiprocess_mode_uses_the_childs_inc(
    rt: IsolatedRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """With ``PROMETHEUS_MULTIPROC_DIR`` set, each change is written through the child's public
    ``inc`` (a set_function gauge has no multiprocess support): the child itself moves.  The
    pair is made once per label set, as in one process (not once per request)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics, registry = _metrics(rt)
    start, end = metrics.active_calls("GET", "http")
    assert metrics.active_calls("GET", "http") == (start, end)
    assert metrics.active_calls("GET", "http")[0] is start
    child = metrics.active_child("GET", "http")
    start()
    assert child._value.get() == 1.0  # the value inc() wrote (not computed at scrape)
    assert _active(registry) == 1.0
    end()
    assert child._value.get() == 0.0


def test_multiprocess_mode_with_a_flusher_counts_in_process_and_writes_on_sync(
    rt: IsolatedRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """What ``init()`` sets up in multi-worker mode: the request path only counts (no write to
    the shared file per request); ``sync_active()`` (the worker's flusher thread, 4 times a
    second) writes the in-flight count into the child, and only when it changed."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics = Metrics(rt.config, CollectorRegistry(), exemplar_store={}, synced_active=True)
    start, end = metrics.active_calls("GET", "http")
    child = metrics.active_child("GET", "http")
    writes: list[float] = []
    real_set = child.set
    child.set = lambda value: (writes.append(value), real_set(value))  # type: ignore[method-assign]
    start()
    start()
    assert child._value.get() == 0.0  # counted, not yet written
    metrics.sync_active()
    assert child._value.get() == 2.0
    metrics.sync_active()  # unchanged: no second write
    assert writes == [2.0]
    end()
    end()
    metrics.sync_active()
    assert child._value.get() == 0.0
    assert writes == [2.0, 0.0]


def test_the_flusher_thread_writes_the_active_count_within_its_tick(
    rt: IsolatedRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """The multi-worker wiring end to end in one process: ``ExemplarFiles``' thread calls
    ``sync_active`` every 0.25 s, so a request in flight shows in the file-backed child
    within a second, and its end too."""
    import time

    from obskit._runtime.metrics.multiproc import ExemplarFiles

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    files = ExemplarFiles(str(tmp_path))
    metrics = Metrics(
        rt.config, CollectorRegistry(), exemplar_store=files.store, synced_active=True
    )
    files.on_tick = metrics.sync_active
    files.ensure_thread()
    try:
        start, end = metrics.active_calls("GET", "http")
        child = metrics.active_child("GET", "http")

        def wait_for(value: float) -> None:
            deadline = time.monotonic() + 5
            while child._value.get() != value:
                assert time.monotonic() < deadline, f"still {child._value.get()}, not {value}"
                time.sleep(0.02)

        start()
        wait_for(1.0)
        end()
        wait_for(0.0)
    finally:
        files.stop()


def test_a_fork_while_a_sync_holds_its_locks_leaves_the_child_working(
    rt: IsolatedRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """A fork while another thread syncs (the flusher runs four times a second, e.g. in a
    ``--preload`` master) copies the sync lock and the count's read lock held: the child (after
    what obskit's fork hook calls) still syncs, within a second, instead of blocking for ever."""
    import os

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics = Metrics(rt.config, CollectorRegistry(), exemplar_store={}, synced_active=True)
    start, _end = metrics.active_calls("GET", "http")
    child = metrics.active_child("GET", "http")
    with metrics._sync_lock, metrics._read_lock_cell[0]:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status
            code = 1
            try:
                metrics.after_fork_in_child()
                start()
                worker = threading.Thread(target=metrics.sync_active, daemon=True)
                worker.start()
                worker.join(1.0)
                code = 0 if not worker.is_alive() and child._value.get() == 1.0 else 1
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
