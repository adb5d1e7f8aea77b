"""Several worker processes: exact counts through prometheus-client's multiprocess mode, plus
the exemplars that mode drops.

Detection (no user setup): ``PROMETHEUS_MULTIPROC_DIR`` when set; otherwise a gunicorn process
(worker or ``--preload`` master) or a uvicorn worker spawned by its supervisor.  The shared
directory is keyed by the server process's pid *and start time*, so a new server run never
inherits old counts.

Switching prometheus-client to multiprocess mode uses only its documented switch: the mode is
chosen when ``prometheus_client.values`` is imported, from ``PROMETHEUS_MULTIPROC_DIR`` (see
:func:`enable`; no private attribute is read or written).  Metrics created before ``init()``
keep the mode of the moment they were created, as prometheus-client documents.

Exemplars: each worker keeps its latest exemplar per bucket series in memory (a dict write on
the hot path) and a daemon thread writes them to ``exemplars-<pid>.json`` at most once a second;
the exposition attaches the newest exemplar per bucket across workers.
"""

from __future__ import annotations

import glob
import importlib
import json
import logging
import math
import multiprocessing
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

from prometheus_client import Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.samples import Exemplar, Sample

from obskit import conventions as c
from obskit._runtime.metrics.instruments import SPANS_DROPPED_HELP

__all__ = ["ExemplarFiles", "MergedCollector", "detect", "enable"]

_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
#: How often the worker's thread writes the active-requests counts to its metrics file (a
#: scrape may see them this late); exemplars are written every ``_TICKS_PER_FLUSH`` ticks.
_TICK_SECONDS: Final = 0.25
_TICKS_PER_FLUSH: Final = 4
_log = logging.getLogger("obskit")
#: Said once when multiprocess mode cannot be switched on (then each worker counts alone).
MULTIPROC_WARNING: Final = (
    "prometheus-client's multiprocess mode could not be switched on: each worker's metrics "
    "are its own (counts are not added up across workers)"
)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks (Linux), or "" elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()
    except (OSError, IndexError):
        return ""


def _gunicorn_role() -> str | None:
    """``"worker"`` or ``"arbiter"`` from the call stack (init() runs while gunicorn loads the
    app: in a worker's ``init_process`` or, with ``--preload``, the arbiter's ``setup``)."""
    workers = os.sep + os.path.join("gunicorn", "workers") + os.sep
    arbiter = os.sep + os.path.join("gunicorn", "arbiter.py")
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if workers in filename:
            return "worker"
        if filename.endswith(arbiter):
            return "arbiter"
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _server_pid() -> int | None:
    """The pid of the multi-worker server this process belongs to, or None."""
    if "gunicorn" in sys.modules or "gunicorn" in os.path.basename(sys.argv[0] if sys.argv else ""):
        role = _gunicorn_role()
        if role == "worker":
            return os.getppid()  # the arbiter is a worker's parent
        if role == "arbiter":
            return os.getpid()  # --preload: init() runs in the arbiter before it forks
        parent = os.getppid()  # init() outside app loading: ask /proc (Linux)
        if "gunicorn" in _cmdline(parent):
            return parent
        return os.getpid()
    if "uvicorn" in sys.modules and multiprocessing.parent_process() is not None:
        return os.getppid()  # a worker spawned by uvicorn's supervisor (--workers / --reload)
    return None


def detect() -> str | None:
    """The multiprocess directory to use, or None for single-process mode."""
    configured = os.environ.get(_ENV)
    if configured:
        return configured
    server = _server_pid()
    if server is None:
        return None
    name = f"obskit-metrics-{os.getuid()}-{server}-{_start_time(server)}"
    path = os.path.join(tempfile.gettempdir(), name)
    if not os.path.isdir(path):
        remove_stale()  # first process of a new server run: tidy up after dead servers
    return path


def remove_stale(directory: str | None = None) -> None:
    """Delete obskit's shared directories left by servers that are no longer running."""
    import shutil

    base = directory or tempfile.gettempdir()
    for path in glob.glob(os.path.join(base, f"obskit-metrics-{os.getuid()}-*")):
        try:
            pid = int(os.path.basename(path).split("-")[3])
        except (IndexError, ValueError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            continue


def enable(path: str) -> bool:
    """Switch prometheus-client to multiprocess mode writing into ``path``, through its
    documented switch only (``PROMETHEUS_MULTIPROC_DIR``, read when ``prometheus_client.values``
    is imported): if the mode is not on already, the variable is set and that module imported
    again.  The result is checked through the public API (a metric made now is written to
    ``path``).  Returns False, after one JSON warning, when the mode is not on: obskit then
    serves each worker's own metrics (the caller falls back to single-process mode)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    previous = os.environ.get(_ENV)
    os.environ[_ENV] = path  # inherited by forked and spawned workers
    try:
        if not _writes_into(path):
            # Not on (prometheus-client was imported before the variable was set): import its
            # value module again so that it reads the variable.  Never done when the mode is
            # on already: two value classes would share this process's files.
            importlib.reload(importlib.import_module("prometheus_client.values"))
            if not _writes_into(path):
                raise RuntimeError(f"a metric made after setting {_ENV} is not written there")
    except Exception as exc:
        if previous is None:
            os.environ.pop(_ENV, None)
        else:
            os.environ[_ENV] = previous
        _log.warning(
            MULTIPROC_WARNING,
            extra={"directory": path, "error": f"{type(exc).__qualname__}: {exc}"},
        )
        return False
    return True


def _writes_into(path: str) -> bool:
    """Whether a metric made now is written to this process's files in ``path``.

    The probe is obskit's own unlabelled counter (spans dropped, same name and help), made with
    no registry and never incremented: in multiprocess mode it writes the 0 that obskit's own
    counter writes a moment later anyway, so nothing foreign reaches the exposition."""
    Counter(c.SPANS_DROPPED.removesuffix("_total"), SPANS_DROPPED_HELP, registry=None)
    mine = glob.glob(os.path.join(path, f"*_{os.getpid()}.db"))
    found = MultiProcessCollector.merge(mine, accumulate=False) if mine else []  # type: ignore[no-untyped-call]
    return any(s.name == c.SPANS_DROPPED for metric in found for s in metric.samples)


class ExemplarFiles:
    """This process's latest exemplars, flushed to ``exemplars-<pid>.json`` in ``path`` at most
    once a second by a thread of its own, which also calls ``on_tick`` (the active-requests
    gauge's write to this process's metrics file) every :data:`_TICK_SECONDS`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.store: dict[tuple[Any, ...], tuple[str, float, float]] = {}
        self._pid = 0
        self._written: dict[tuple[Any, ...], tuple[str, float, float]] = {}
        self._stop = threading.Event()
        #: Called on every tick of the thread and at :meth:`stop` (None: nothing).
        self.on_tick: Callable[[], None] | None = None

    def ensure_thread(self) -> None:
        """Start the flusher in this process (again after a fork)."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self.store.clear()  # the parent's exemplars are not ours
        self._written = {}
        self._stop = threading.Event()
        threading.Thread(target=self._run, name="obskit-exemplars", daemon=True).start()

    def _run(self) -> None:
        ticks = 0
        while not self._stop.wait(_TICK_SECONDS):
            self._tick()
            ticks += 1
            if ticks % _TICKS_PER_FLUSH == 0:
                self.flush()

    def _tick(self) -> None:
        on_tick = self.on_tick
        if on_tick is not None:
            on_tick()

    def flush(self) -> None:
        """Write the exemplars if they changed (atomic rename)."""
        snapshot = dict(self.store)
        if snapshot == self._written:
            return
        rows = [[m, list(lv), le, tid, v, ts] for (m, lv, le), (tid, v, ts) in snapshot.items()]
        target = os.path.join(self.path, f"exemplars-{os.getpid()}.json")
        tmp = target + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(rows, fh)
            os.replace(tmp, target)
            self._written = snapshot
        except OSError:
            pass

    def stop(self) -> None:
        self._stop.set()
        self._tick()
        self.flush()


def read_exemplars(path: str) -> dict[tuple[Any, ...], Exemplar]:
    """The newest exemplar per ``(metric, labelvalues, le)`` across every worker's file."""
    newest: dict[tuple[Any, ...], tuple[float, Exemplar]] = {}
    for name in glob.glob(os.path.join(path, "exemplars-*.json")):
        try:
            with open(name, encoding="utf-8") as fh:
                rows = json.load(fh)
        except (OSError, ValueError):
            continue
        for metric, labelvalues, le, trace_id, value, ts in rows:
            key = (metric, tuple(labelvalues), float(le))
            if key not in newest or newest[key][0] < ts:
                newest[key] = (ts, Exemplar({"trace_id": trace_id}, value, ts))
    return {k: v[1] for k, v in newest.items()}


def group_by_series(samples: list[Sample]) -> list[Sample]:
    """A histogram's samples reordered so that each series' samples are adjacent, in the
    OpenMetrics order: buckets (as given), ``_count``, ``_sum``; a series with no ``+Inf``
    bucket is left out.

    OpenMetrics requires the samples of one label set to be contiguous; the multiprocess
    collector of prometheus-client before 0.24 emits every ``_sum`` first and the buckets and
    ``_count`` after, which strict parsers (prometheus-client's own) reject with "Invalid metric
    grouping".  Series keep the order of their first sample.

    A worker creates a new series' values one at a time (``_sum``, then each bucket up to
    ``+Inf``) in its file, so a scrape that reads the file in between sees a series without its
    ``+Inf`` bucket, which strict parsers reject ("+Inf bucket missing") and PromQL's
    ``histogram_quantile`` cannot use.  Nothing is observed into a series before it is whole,
    so such a series holds only zeros: leaving it out of this one scrape loses no count.
    """
    series: dict[tuple[tuple[str, str], ...], list[Sample]] = {}
    for s in samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        series.setdefault(key, []).append(s)

    def rank(s: Sample) -> int:
        return 0 if s.name.endswith("_bucket") else 1 if s.name.endswith("_count") else 2

    def whole(group: list[Sample]) -> bool:
        return any(s.labels.get("le") == "+Inf" for s in group if s.name.endswith("_bucket"))

    return [s for group in series.values() if whole(group) for s in sorted(group, key=rank)]


class MergedCollector:
    """prometheus-client's multiprocess collector, with the workers' exemplars put back."""

    def __init__(self, path: str, histograms: dict[str, list[str]]) -> None:
        self.path = path
        self._inner = MultiProcessCollector(None, path=path)  # type: ignore[no-untyped-call]
        #: histogram name -> its label names (order of the exemplar keys' label values)
        self._histograms = histograms

    def _forget_dead_workers(self) -> None:
        """Live gauges (active requests) of workers that died mid-request must not count."""
        for name in glob.glob(os.path.join(self.path, "gauge_live*_*.db")):
            try:
                pid = int(name.rsplit("_", 1)[1].removesuffix(".db"))
                os.kill(pid, 0)
            except ValueError:
                continue
            except ProcessLookupError:
                mark_dead(pid, self.path)
            except PermissionError:
                continue

    def collect(self) -> Iterator[Metric]:
        self._forget_dead_workers()
        exemplars = read_exemplars(self.path)
        for metric in self._inner.collect():  # type: ignore[no-untyped-call]
            if metric.type == "histogram":
                metric.samples = group_by_series(metric.samples)
            labelnames = self._histograms.get(metric.name)
            if labelnames is None or not exemplars:
                yield metric
                continue
            samples = []
            for s in metric.samples:
                if s.name.endswith("_bucket") and s.exemplar is None:
                    le = s.labels.get("le", "")
                    key = (
                        metric.name,
                        tuple(s.labels.get(n, "") for n in labelnames),
                        math.inf if le == "+Inf" else float(le),
                    )
                    ex = exemplars.get(key)
                    if ex is not None:
                        s = Sample(s.name, s.labels, s.value, s.timestamp, ex)
                samples.append(s)
            metric.samples = samples
            yield metric


def mark_dead(pid: int, path: str | None = None) -> None:
    """Drop a dead worker's live gauges (gunicorn ``child_exit`` hook, optional)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, path or os.environ.get(_ENV))  # type: ignore[no-untyped-call]
