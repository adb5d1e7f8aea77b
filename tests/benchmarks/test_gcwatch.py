"""The soak benchmark's GC pause recorder (``benchmarks/_gcwatch.py``): it sees real collections
with their generation and a duration, writes them, and counts only a window's collections."""

from __future__ import annotations

import contextlib
import gc
import json
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import _gcwatch


@contextlib.contextmanager
def _recording() -> Iterator[_gcwatch.GcRecorder]:
    """A recorder installed for the ``with`` block, uninstalled after it (even on failure)."""
    recorder = _gcwatch.GcRecorder().install()
    try:
        yield recorder
    finally:
        recorder.uninstall()


def test_records_every_collection_with_its_generation_while_installed() -> None:
    """Two explicit collections (gen 0, gen 2) are recorded in order with a duration >= 0; after
    ``uninstall`` nothing more is recorded."""
    with _recording() as recorder:
        gc.collect(0)
        gc.collect(2)
    records = recorder.records()
    gc.collect()
    # Automatic collections may interleave, but the two explicit ones come last, in order.
    assert [r[0] for r in records[-2:]] == [0, 2]
    assert all(duration >= 0 and cpu >= 0 for _, _, duration, _, cpu, _ in records)
    assert recorder.records() == records  # the collection after uninstall() is not recorded


def test_collections_found_are_counted(tmp_path: Path) -> None:
    """A collection that finds a reference cycle reports it as collected, and ``dump`` writes
    the records with the pid."""
    with _recording() as recorder:
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        gc.collect()
    assert recorder.records()[-1][3] >= 1
    data = json.loads(recorder.dump(tmp_path).read_text())
    assert data["records"][-1][3] >= 1
    assert data["pid"] > 0


def test_a_full_collection_counts_the_objects_it_examined() -> None:
    """A full collection's ``examined`` count is the tracked heap at its start (at least the
    100,000 lists held here), a young collection's far smaller; CPU time is recorded."""
    held = [[] for _ in range(100_000)]
    with _recording() as recorder:
        gc.collect(0)
        gc.collect(2)
    young, full = recorder.records()[-2:]
    assert full[0] == 2
    assert full[5] >= len(held)
    assert young[0] == 0
    assert young[5] < len(held) // 10
    assert full[4] > 0.0  # traversing 100,000 objects takes measurable CPU time
    del held


def test_summary_keeps_only_collections_started_in_the_windows() -> None:
    """``summarise`` counts by generation, the max pause and pauses over 10 ms, only for
    collections whose start falls in a window."""
    records = [
        (0, 1.0, 0.5, 0, 0.5, 700),  # before the window
        (2, 10.0, 42.0, 3, 40.0, 60_000),  # in it: a long full collection
        (0, 10.5, 0.2, 0, 0.2, 700),
        (1, 11.0, 11.0, 0, 0.3, 5_000),  # in it: over 10 ms, but waiting for a core
        (2, 30.0, 90.0, 0, 80.0, 90_000),  # after it
    ]
    summary = _gcwatch.summarise(records, [(10.0, 20.0)])
    assert summary["by_generation"] == [1, 1, 1]
    assert summary["collections"] == 3
    assert summary["max_ms"] == 42.0
    assert summary["gen2_max_ms"] == 42.0
    assert summary["over_10ms"] == 2
    assert summary["over_10ms_cpu"] == 1
    assert summary["gen2_examined_max"] == 60_000
    assert summary["gen2_cpu_max_ms"] == 40.0
    assert [(p["generation"], p["cpu_ms"]) for p in summary["long_pauses"]] == [(2, 40.0), (1, 0.3)]
    everything = _gcwatch.summarise(records)
    assert everything["collections"] == 5
    assert everything["max_ms"] == 90.0
    # Records of an older dump (no CPU time, no examined count) still summarise.
    assert _gcwatch.summarise([r[:4] for r in records])["over_10ms_cpu"] == 0
