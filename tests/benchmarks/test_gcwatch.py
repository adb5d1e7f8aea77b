"""The soak benchmark's GC pause recorder (``benchmarks/_gcwatch.py``): it sees real collections
with their generation and a duration, writes them, and counts only a window's collections."""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import _gcwatch


def test_records_every_collection_with_its_generation_while_installed() -> None:
    """Two explicit collections (gen 0, gen 2) are recorded in order with a duration >= 0; after
    ``uninstall`` nothing more is recorded."""
    recorder = _gcwatch.GcRecorder().install()
    try:
        gc.collect(0)
        gc.collect(2)
    finally:
        recorder.uninstall()
    records = recorder.records()
    gc.collect()
    # Automatic collections may interleave, but the two explicit ones come last, in order.
    assert [r[0] for r in records[-2:]] == [0, 2]
    assert all(duration >= 0 for _, _, duration, _ in records)
    assert recorder.records() == records  # the collection after uninstall() is not recorded


def test_collections_found_are_counted(tmp_path: Path) -> None:
    """A collection that finds a reference cycle reports it as collected, and ``dump`` writes
    the records with the pid."""
    recorder = _gcwatch.GcRecorder().install()
    try:
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        gc.collect()
    finally:
        recorder.uninstall()
    assert recorder.records()[-1][3] >= 1
    data = json.loads(recorder.dump(tmp_path).read_text())
    assert data["records"][-1][3] >= 1
    assert data["pid"] > 0


def test_summary_keeps_only_collections_started_in_the_windows() -> None:
    """``summarise`` counts by generation, the max pause and pauses over 10 ms, only for
    collections whose start falls in a window."""
    records = [
        (0, 1.0, 0.5, 0),  # before the window
        (2, 10.0, 42.0, 3),  # in it: a long full collection
        (0, 10.5, 0.2, 0),
        (1, 11.0, 11.0, 0),  # in it: over 10 ms
        (2, 30.0, 90.0, 0),  # after it
    ]
    summary = _gcwatch.summarise(records, [(10.0, 20.0)])
    assert summary["by_generation"] == [1, 1, 1]
    assert summary["collections"] == 3
    assert summary["max_ms"] == 42.0
    assert summary["gen2_max_ms"] == 42.0
    assert summary["over_10ms"] == 2
    everything = _gcwatch.summarise(records)
    assert everything["collections"] == 5
    assert everything["max_ms"] == 90.0
