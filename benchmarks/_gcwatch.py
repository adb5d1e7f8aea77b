"""A garbage-collection pause recorder built on ``gc.callbacks``.

Every collection's generation, start (``time.monotonic()``, comparable across processes on
Linux), duration (wall clock, and the collecting thread's CPU time: on a loaded machine a pause
whose CPU time is far below its wall time was mostly the process waiting for a core, not the
collector working), number of objects collected and number of objects examined (the size of the
generations collected, counted before the clock starts) is appended to ``array`` buffers: no
tracked object per collection, so the recorder does not feed the collector it measures.

The soak benchmark installs it in each gunicorn worker (``_soak_gunicorn.py``: ``post_fork``
installs, ``worker_exit`` writes ``gc-<pid>.json``); :func:`summarise` turns the records of one
time window into the figures the benchmark prints.
"""

from __future__ import annotations

import gc
import json
import os
from array import array
from pathlib import Path
from time import monotonic, perf_counter_ns, thread_time_ns
from typing import Any

__all__ = ["GcRecorder", "summarise"]

#: A pause longer than this is reported separately (the soak benchmark's goal).
LONG_PAUSE_MS = 10.0


class GcRecorder:
    """Records every collection of this process while installed."""

    def __init__(self) -> None:
        self.generations = array("b")
        self.starts = array("d")  # time.monotonic() at the start, seconds
        self.durations_ms = array("d")
        self.collected = array("q")
        self.cpu_ms = array("d")  # the collecting thread's CPU time during the pause
        self.examined = array("q")  # objects in the generations collected, at the start
        self._started_ns = 0
        self._started_cpu_ns = 0
        self._started_at = 0.0
        self._examined = 0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            # Counted before the clocks start (get_objects builds a list: not part of the pause).
            self._examined = sum(len(gc.get_objects(g)) for g in range(info["generation"] + 1))
            self._started_at = monotonic()
            self._started_cpu_ns = thread_time_ns()
            self._started_ns = perf_counter_ns()
            return
        elapsed = (perf_counter_ns() - self._started_ns) / 1e6
        cpu = (thread_time_ns() - self._started_cpu_ns) / 1e6
        self.generations.append(info["generation"])
        self.starts.append(self._started_at)
        self.durations_ms.append(elapsed)
        self.collected.append(info.get("collected", 0))
        self.cpu_ms.append(cpu)
        self.examined.append(self._examined)

    def install(self) -> GcRecorder:
        """Start recording (idempotent)."""
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)
        return self

    def uninstall(self) -> None:
        """Stop recording (the records are kept)."""
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def records(self) -> list[tuple[int, float, float, int, float, int]]:
        """``(generation, start, duration_ms, collected, cpu_ms, examined)`` per collection,
        in order."""
        return list(
            zip(
                self.generations, self.starts, self.durations_ms, self.collected, self.cpu_ms,
                self.examined, strict=True,
            )
        )  # fmt: skip

    def dump(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``gc-<pid>.json`` (the records, the thresholds, the pid) into ``directory``."""
        path = Path(directory) / f"gc-{os.getpid()}.json"
        data = {
            "pid": os.getpid(),
            "threshold": list(gc.get_threshold()),
            "frozen": gc.get_freeze_count(),
            "records": self.records(),
        }
        path.write_text(json.dumps(data))
        return path


def summarise(
    records: list[tuple[int, float, float, int, float, int]] | list[list[Any]],
    windows: list[tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """Counts and pauses of the collections that *started* inside ``windows`` (all if None).

    Returns ``collections`` (total), ``by_generation`` (``[gen0, gen1, gen2]`` counts),
    ``gen2_max_ms``, ``max_ms``, ``over_10ms`` (count of pauses > ``LONG_PAUSE_MS``, wall
    clock), ``over_10ms_cpu`` (of those, how many used that much CPU), ``total_ms`` and
    ``p99_ms`` of the pauses, ``gen2_examined_max`` (the most objects a full collection
    traversed), ``gen2_cpu_max_ms`` (the most CPU time one used) and ``long_pauses``: every
    pause over ``LONG_PAUSE_MS`` as ``{"generation", "wall_ms", "cpu_ms", "examined",
    "collected"}``.  Records without CPU time or examined count (older dumps) read them as 0.
    """
    kept = []
    for g, s, d, collected, *more in records:
        if windows is None or any(lo <= float(s) < hi for lo, hi in windows):
            cpu = float(more[0]) if more else 0.0
            examined = int(more[1]) if len(more) > 1 else 0
            kept.append((int(g), float(d), cpu, examined, int(collected)))
    by_gen = [0, 0, 0]
    for gen, *_ in kept:
        by_gen[gen] += 1
    pauses = sorted(d for _, d, *_ in kept)
    gen2 = [k for k in kept if k[0] == 2]
    long = [k for k in kept if k[1] > LONG_PAUSE_MS]
    return {
        "collections": len(kept),
        "by_generation": by_gen,
        "gen2_max_ms": max((d for _, d, *_ in gen2), default=0.0),
        "gen2_examined_max": max((e for *_, e, _ in gen2), default=0),
        "gen2_cpu_max_ms": max((c for _, _, c, _, _ in gen2), default=0.0),
        "max_ms": pauses[-1] if pauses else 0.0,
        "over_10ms": len(long),
        "over_10ms_cpu": sum(1 for k in long if k[2] > LONG_PAUSE_MS),
        "total_ms": sum(pauses),
        "p99_ms": pauses[min(len(pauses) - 1, int(len(pauses) * 0.99))] if pauses else 0.0,
        "long_pauses": [
            {"generation": g, "wall_ms": d, "cpu_ms": c, "examined": e, "collected": n}
            for g, d, c, e, n in long
        ],
    }
