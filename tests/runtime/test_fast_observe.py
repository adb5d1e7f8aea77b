"""The histogram fast path records exactly what ``Histogram.observe`` records."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram

from obskit import conventions as c
from obskit._runtime.metrics.instruments import _observe

TRACE = "0af7651916cd43dd8448eb211c80319c"


def _child(registry: CollectorRegistry) -> Histogram:
    histogram = Histogram("h", "h", ["route"], registry=registry, buckets=c.buckets())
    return histogram.labels("/a")


@pytest.mark.parametrize("trace_id", [None, TRACE])
def test_same_buckets_sum_and_exemplars_as_observe(trace_id: str | None) -> None:
    """Values on, between and beyond the bucket bounds land in the same buckets, with the same
    sum and the same exemplar (label, value) as through ``observe``."""
    bounds = list(c.buckets())
    values = [0.0, 1e-6, bounds[0], bounds[0] + 1e-9, bounds[3], bounds[-1], bounds[-1] * 3]
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    fast, slow = _child(ours), _child(theirs)
    for value in values:
        _observe(fast, value, trace_id)
        if trace_id is None:
            slow.observe(value)
        else:
            slow.observe(value, {c.EXEMPLAR_TRACE_ID: trace_id})

    def samples(registry: CollectorRegistry) -> list[tuple[str, dict[str, str], float, object]]:
        out = []
        for metric in registry.collect():
            for s in metric.samples:
                ex = (s.exemplar.labels, s.exemplar.value) if s.exemplar else None
                out.append((s.name, s.labels, s.value, ex))
        return [s for s in out if not s[0].endswith("_created")]

    got = samples(ours)
    assert got == samples(theirs)
    assert any(s[3] is not None for s in got) == (trace_id is not None)
