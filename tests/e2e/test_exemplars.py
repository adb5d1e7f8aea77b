"""Exemplars: from a Prometheus query to the request's log lines and its trace."""

from __future__ import annotations

import time
from functools import partial

from tests.support import ReceivedSpan, assert_all_json, is_hex_id

from obskit import conventions as c

from .conftest import Shop


def _server_span_of(trace_id: str, span: ReceivedSpan) -> bool:
    return span.trace_id == trace_id and span.kind == "SERVER"


def test_exemplars_lead_to_the_requests_log_lines_and_spans(shop: Shop) -> None:
    """Prometheus stores exemplars for the checkout histogram; each exemplar's trace id is the
    trace id of exactly the request it was observed on: its JSON access line has the series'
    route, method and status and a duration inside the exemplar's bucket, and the OTLP receiver
    got that request's server span with the same route."""
    data = shop.prometheus.api(
        "query_exemplars",
        query=f'{c.HTTP_DURATION_BUCKET}{{job="checkout"}}',
        start=f"{shop.started_at - 60:.3f}",
        end=f"{time.time():.3f}",
    )
    exemplars = [
        (series["seriesLabels"], exemplar) for series in data for exemplar in series["exemplars"]
    ]
    assert exemplars, "Prometheus stored no exemplar for the checkout histogram"
    print(f"{len(exemplars)} exemplars checked against log lines and spans")
    routes = {labels[c.LABEL_ROUTE] for labels, _ in exemplars}
    assert {"/cart/{id}", "/checkout", "/products"} <= routes, routes

    records = assert_all_json(shop.checkout.process.texts("stdout"), what="checkout stdout")
    access = {r["trace_id"]: r for r in records if r.get("logger") == "obskit.access"}
    slow_seen = False
    for labels, exemplar in exemplars:
        trace_id = exemplar["labels"][c.EXEMPLAR_TRACE_ID]
        assert is_hex_id(trace_id, 32), exemplar
        line = access.get(trace_id)
        assert line is not None, f"no access line with trace_id {trace_id} ({labels})"
        assert line["route"] == labels[c.LABEL_ROUTE]
        assert line["method"] == labels[c.LABEL_METHOD]
        assert str(line["status"]) == labels[c.LABEL_STATUS]
        # The exemplar sits on the bucket its observation fell in (and the value is the duration).
        assert float(exemplar["value"]) <= float(labels["le"])
        assert abs(line["duration_ms"] / 1000 - float(exemplar["value"])) < 0.05
        slow_seen |= float(exemplar["value"]) > 0.5

        spans = shop.receiver.wait_for(partial(_server_span_of, trace_id), timeout=15)
        assert spans[0].attributes["http.route"] == labels[c.LABEL_ROUTE]
        assert spans[0].resource["service.name"] == "checkout"
    # A slow checkout is what an engineer clicks on in a latency panel: its exemplar is there.
    assert slow_seen, "no exemplar above the 0.5 s latency threshold"
