"""The RED metrics obskit emits, with pre-bound label children for the hot path.

Every name comes from :mod:`obskit.conventions`.  Label children are cached per
``(method, route, status)``: routes are templates and ``<unmatched>``, methods are folded into
``_OTHER``, so the cache is bounded by the application's own route table.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.samples import Exemplar

from obskit import conventions as c
from obskit._runtime.config import Config

__all__ = ["Metrics"]

_bisect = bisect.bisect_left
_now = time.time
_log = logging.getLogger("obskit")

#: The histograms' label names (also the multiprocess exemplar keys' order, ``lifecycle``).
HTTP_LABELS: Final = (c.LABEL_METHOD, c.LABEL_ROUTE, c.LABEL_STATUS)
OPERATION_LABELS: Final = (c.LABEL_OPERATION, c.LABEL_OUTCOME)
#: The spans-dropped counter's help (also the multiprocess probe's, ``multiproc.enable``).
SPANS_DROPPED_HELP: Final = "Spans dropped by the exporter (queue full, endpoint down or slow)."
#: Upper bound of cached label children (beyond it, ``labels()`` is called each time).
_CACHE_MAX: Final = 10_000


class Metrics:
    """The runtime's metric objects, registered in ``registry``."""

    def __init__(
        self,
        config: Config,
        registry: CollectorRegistry,
        *,
        exemplar_store: dict[tuple[Any, ...], tuple[str, float, float]] | None = None,
        synced_active: bool = False,
    ) -> None:
        self.registry = registry
        bounds = c.buckets()
        self._bounds = list(bounds)
        #: Multiprocess mode: prometheus-client drops exemplars there, so they are kept here
        #: (``(metric, labelvalues, le) -> (trace_id, value, timestamp)``) and merged at scrape.
        self.exemplar_store = exemplar_store
        self.http_duration = Histogram(
            c.HTTP_DURATION.removesuffix("_seconds"),
            "Duration of HTTP server requests.",
            HTTP_LABELS,
            unit="seconds",
            buckets=bounds,
            registry=registry,
        )
        self.active_requests = Gauge(
            c.ACTIVE_REQUESTS,
            "Number of active HTTP server requests.",
            [c.LABEL_METHOD, c.LABEL_SCHEME],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.operation_duration = Histogram(
            c.OPERATION_DURATION.removesuffix("_seconds"),
            "Duration of operations observed with obskit.observe.",
            OPERATION_LABELS,
            unit="seconds",
            buckets=bounds,
            registry=registry,
        )
        self.spans_dropped = Counter(
            c.SPANS_DROPPED.removesuffix("_total"),
            SPANS_DROPPED_HELP,
            registry=registry,
        )
        self.export_errors = Counter(
            c.EXPORT_ERRORS.removesuffix("_total"),
            "Failures in obskit's own span-export path (not network errors), by kind.",
            [c.LABEL_EXPORT_ERROR_KIND],
            registry=registry,
        )
        self.propagation_errors = Counter(
            c.PROPAGATION_ERRORS.removesuffix("_total"),
            "Incoming trace headers rejected by the propagators (malformed or oversize).",
            [c.LABEL_PROPAGATION_KIND],
            registry=registry,
        )
        # A gauge rather than an Info: prometheus-client's Info has no multiprocess support.
        self.target_info = Gauge(
            c.TARGET_INFO,
            "Target metadata.",
            [c.TARGET_INFO_LABEL_SERVICE, c.TARGET_INFO_LABEL_VERSION,
             c.TARGET_INFO_LABEL_ENVIRONMENT],
            registry=registry,
            multiprocess_mode="max",
        )  # fmt: skip
        self.target_info.labels(
            config.service_name, config.service_version, config.environment
        ).set(1)
        self._http_children: dict[tuple[str, str, int], Any] = {}
        self._active_children: dict[tuple[str, str], Any] = {}
        #: ``(method, scheme) -> (start, end)``: the calls a request makes on the gauge.
        self._active_pairs: dict[tuple[str, str], tuple[Callable[[], Any], Callable[[], Any]]] = {}
        #: Counted in-process and read at scrape (``set_function``) in one process.  In
        #: multiprocess mode prometheus-client keeps values in per-process files, which a scrape
        #: in another process reads: with ``synced_active`` the counts are written there by
        #: :meth:`sync_active` (the worker's flusher thread calls it, ``ExemplarFiles``), else
        #: on each change through the child's ``inc``.
        multiprocess = exemplar_store is not None or _multiprocess_env()
        self._counted_active = not multiprocess or synced_active
        self._synced_active = multiprocess and synced_active
        #: ``[child, read the in-flight count, the value last written]`` (synced mode).
        self._synced: list[list[Any]] = []
        self._sync_lock = threading.Lock()
        #: The lock every counted gauge's read takes (one cell: renewed after a fork).
        self._read_lock_cell = [threading.Lock()]
        self._op_children: dict[tuple[str, str], Any] = {}
        #: False: every histogram observation takes the public ``observe()`` (set by
        #: ``obskit._runtime.selftest`` when ``_observe``'s prometheus-client internals fail
        #: its check).
        self.fast_observe = True

    def export_error(self, kind: str) -> None:
        """Count one failure of obskit's own export path (``conventions.EXPORT_ERROR_*``)."""
        self.export_errors.labels(kind).inc()

    def propagation_errors_child(self, kind: str) -> None:
        """Count one rejected incoming trace header of ``kind`` (bounded: three kinds)."""
        self.propagation_errors.labels(kind).inc()

    # -- hot path ------------------------------------------------------------------------------

    def http_child(self, method: str, route: str, status: int) -> Any:
        """The histogram child for these labels (cached)."""
        key = (method, route, status)
        child = self._http_children.get(key)
        if child is None:
            child = self.http_duration.labels(method, route, str(status))
            if len(self._http_children) < _CACHE_MAX:
                self._http_children[key] = child
        return child

    def active_child(self, method: str, scheme: str) -> Any:
        """The active-requests gauge child for these labels (cached)."""
        key = (method, scheme)
        child = self._active_children.get(key)
        if child is None:
            child = self.active_requests.labels(method, scheme)
            if len(self._active_children) < _CACHE_MAX:
                self._active_children[key] = child
        return child

    def active_calls(self, method: str, scheme: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
        """``(start, end)``: what a request calls when it begins and when it ends.

        In one process these are the ``__next__`` of two ``itertools.count`` objects (a C call
        each, atomic under the GIL) and the gauge child reads ``started - ended`` at scrape
        through the public ``set_function``; ``Gauge.inc`` is four Python calls and a lock per
        change, twice per request.  In multiprocess mode with ``synced_active`` (what
        ``init()`` sets up) counted the same way, and written into this process's file by
        :meth:`sync_active`.  In multiprocess mode without it, or past the label-cache bound,
        the child's public ``inc(1)``/``inc(-1)`` (cached too, under the bound: the pair is made
        once per label set, not per request).
        """
        key = (method, scheme)
        pair = self._active_pairs.get(key)
        if pair is not None:
            return pair
        child = self.active_child(method, scheme)
        cached = len(self._active_pairs) < _CACHE_MAX
        if self._counted_active and cached:
            start, end, read = _counted(self._read_lock_cell)
            pair = start, end
            if self._synced_active:
                self._synced.append([child, read, None])
            else:
                child.set_function(read)
        else:  # multiprocess mode (written on each change) or past the bound: the public inc
            pair = functools.partial(child.inc, 1), functools.partial(child.inc, -1)
        if cached:  # (the cache only grows: a child past the bound never becomes counted)
            self._active_pairs[key] = pair
        return pair

    def sync_active(self) -> None:
        """Write each counted active-requests value that changed since the last call into
        the child (multiprocess mode: this process's file).  The worker's flusher thread calls
        it a few times a second, and ``obskit.flush()`` and exit; never raises."""
        with self._sync_lock:  # one writer at a time: a stale value never lands last
            for entry in list(self._synced):
                try:
                    value = entry[1]()
                    if value != entry[2]:
                        entry[0].set(value)
                        entry[2] = value
                except Exception:  # a closed file at exit: nothing to write to
                    _log.debug("active-requests sync failed", exc_info=True)

    def after_fork_in_child(self) -> None:
        """After a fork (``State.after_fork_in_child``, before the flusher thread restarts):
        fresh read and sync locks (another thread may have held one at the fork: the flusher
        reads and syncs four times a second), and every value written again (in multiprocess
        mode the child's file starts empty)."""
        self._read_lock_cell[0] = threading.Lock()
        self._sync_lock = threading.Lock()
        for entry in self._synced:
            entry[2] = None

    def observe_http(
        self, method: str, route: str, status: int, seconds: float, trace_id: str | None
    ) -> None:
        """Record one request; ``trace_id`` (sampled spans only) becomes the exemplar."""
        child = self._http_children.get((method, route, status))  # the cache hit, no call
        if child is None:
            child = self.http_child(method, route, status)
        if trace_id is None:
            # The public call: the private path buys < 1 µs without an exemplar (measured,
            # docs/runtime.md "Private internals").
            child.observe(seconds)
        elif self.exemplar_store is None:
            if self.fast_observe:
                _observe(child, seconds, trace_id)  # about 3-4 µs less than observe()
            else:
                observe_public(child, seconds, trace_id)
        else:
            child.observe(seconds)
            self._store_exemplar(c.HTTP_DURATION, (method, route, str(status)), seconds, trace_id)

    def observe_operation(
        self, operation: str, outcome: str, seconds: float, trace_id: str | None
    ) -> None:
        """Record one ``obskit.observe`` operation."""
        key = (operation, outcome)
        child = self._op_children.get(key)
        if child is None:
            child = self.operation_duration.labels(operation, outcome)
            if len(self._op_children) < _CACHE_MAX:
                self._op_children[key] = child
        if trace_id is None:
            child.observe(seconds)
        elif self.exemplar_store is None:
            child.observe(seconds, {c.EXEMPLAR_TRACE_ID: trace_id})
        else:
            child.observe(seconds)
            self._store_exemplar(c.OPERATION_DURATION, (operation, outcome), seconds, trace_id)

    def _store_exemplar(
        self, metric: str, labels: tuple[str, ...], seconds: float, trace_id: str
    ) -> None:
        assert self.exemplar_store is not None
        index = bisect.bisect_left(self._bounds, seconds)
        le = self._bounds[index] if index < len(self._bounds) else float("inf")
        self.exemplar_store[(metric, labels, le)] = (trace_id, seconds, time.time())


def _multiprocess_env() -> bool:
    """Whether prometheus-client runs in multiprocess mode (it reads the same variables)."""
    environ = os.environ
    return "PROMETHEUS_MULTIPROC_DIR" in environ or "prometheus_multiproc_dir" in environ


#: Tries of a consistent read of the active-requests counts per scrape (see _counted).
_ACTIVE_READ_TRIES = 8


def _counted(
    lock_cell: list[threading.Lock],
) -> tuple[Callable[[], Any], Callable[[], Any], Callable[[], float]]:
    """``(start, end, read)``: in-flight requests counted in two ``itertools.count`` objects;
    a read takes ``lock_cell[0]`` (its owner renews it after a fork).

    The request path only calls the counts' ``__next__`` (a C call each).  A read (a scrape
    through ``set_function``, or the multiprocess flusher) reads
    ``ended``, ``started``, ``ended`` again: when no request ended between its two reads of
    ``ended``, ``started - ended`` is exactly the number in flight at the read of ``started``
    (another thread may run thousands of requests between two reads of a slow scrape, so one
    read of each would over-count them).  Reading a count advances it: the scrape's own reads
    are tallied and taken off.  After a few unlucky tries it reports the lower bound."""
    started = itertools.count()
    ended = itertools.count()
    start, end = started.__next__, ended.__next__
    own = [0, 0]  # the scrapes' own reads of (started, ended)

    def value() -> float:
        with lock_cell[0]:
            active = 0
            for _ in range(_ACTIVE_READ_TRIES):
                first = end() - own[1]
                now = start() - own[0]
                last = end() - own[1] - 1
                own[0] += 1
                own[1] += 2
                active = now - last
                if first == last:
                    break
            return float(max(active, 0))

    return start, end, value


def _observe(child: Any, seconds: float, trace_id: str | None) -> None:
    """``Histogram.observe`` for a label child, without its per-call checks (see
    :func:`observe_fast`); the public ``observe()`` if the internals are not there."""
    try:
        observe_fast(child, seconds, trace_id)
    except AttributeError:  # prometheus-client internals changed (the self-test switches first)
        observe_public(child, seconds, trace_id)


def observe_fast(child: Any, seconds: float, trace_id: str | None) -> None:
    """``Histogram.observe`` for a label child through its private ``_sum``, ``_buckets`` and
    ``_upper_bounds`` (checked against :func:`observe_public` by ``obskit._runtime.selftest``).

    Same effect as ``child.observe(seconds, {"trace_id": trace_id})``: the sum, the first bucket
    whose bound is >= ``seconds`` (the last bound is +Inf), the exemplar on that bucket.  What it
    skips is constant here: the child is a labelled histogram child, the exemplar's one label
    (``trace_id``, 32 hex digits) is valid and far below the 128-character limit, and durations
    from ``perf_counter`` are never NaN.
    """
    total = child._sum
    bucket = child._buckets[_bisect(child._upper_bounds, seconds)]
    total.inc(seconds)
    bucket.inc(1)
    if trace_id is not None:
        bucket.set_exemplar(Exemplar({c.EXEMPLAR_TRACE_ID: trace_id}, seconds, _now()))


def observe_public(child: Any, seconds: float, trace_id: str | None) -> None:
    """The public ``Histogram.observe`` with the trace-id exemplar: what :func:`_observe` does
    (the fallback when its internals fail ``obskit._runtime.selftest``)."""
    if trace_id is None:
        child.observe(seconds)
    else:
        child.observe(seconds, {c.EXEMPLAR_TRACE_ID: trace_id})
