"""Hostile trace headers on a real server: rejected headers are counted, warned about at most once
per kind per minute, and never copied into a log line; repeated ``tracestate`` fields are joined."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.runtime_e2e._service import UVICORN, Service, run_service
from tests.support import HeaderRecorder, OtlpReceiver, new_traceparent

from obskit import conventions as c

pytestmark = pytest.mark.e2e

_SECRET = "hunter2-baggage-secret"
#: Over the W3C 8192-byte baggage limit, with a secret in it (the SDK's warning copies it all).
_HUGE_BAGGAGE = f"session={_SECRET}," + ",".join(f"k{i}=v{i}" for i in range(1500))
_BAD_TRACESTATE = f"ok=1,{_SECRET} has spaces"
_HUGE_TRACEPARENT = new_traceparent().header + "-" + _SECRET * 40
_WARNING = "invalid trace header ignored"


def _errors(service: Service, kind: str) -> float:
    return service.scrape().value(c.PROPAGATION_ERRORS, **{c.LABEL_PROPAGATION_KIND: kind})


def test_bad_trace_headers_are_counted_and_warned_once_per_kind(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """100 requests with an oversize baggage (a secret in it), 20 with a malformed tracestate and
    20 with an oversize traceparent, on uvicorn: every request succeeds; one JSON warning per kind
    (not one per request); the metric counts every rejected header; the secret appears in no
    output line, and every line is JSON."""
    with run_service(UVICORN, otlp_endpoint=otlp_receiver.endpoint, tmp_dir=tmp_path) as service:
        with service.client() as client:
            for i in range(100):
                response = client.get(f"/items/{i}", headers={"baggage": _HUGE_BAGGAGE})
                assert response.status_code == 200
            for i in range(20):
                headers = {"traceparent": new_traceparent().header, "tracestate": _BAD_TRACESTATE}
                assert client.get(f"/orders/{i}", headers=headers).status_code == 200
                headers = {"traceparent": _HUGE_TRACEPARENT}
                assert client.get(f"/orders/{i}", headers=headers).status_code == 200
        service.wait_scrape(
            lambda s: s.value(c.PROPAGATION_ERRORS) >= 140, what="140 rejected headers counted"
        )
        assert _errors(service, c.PROPAGATION_KIND_BAGGAGE) == 100
        assert _errors(service, c.PROPAGATION_KIND_TRACESTATE) == 20
        assert _errors(service, c.PROPAGATION_KIND_TRACEPARENT) == 20
        service.wait_records(
            lambda r: r.get("logger") == "obskit.access" and r.get("path") == "/orders/19",
            count=2,
            what="the last requests' access lines",
        )
    records = service.records()  # the server has stopped: all of its output
    output = service.proc.texts()
    warnings = [r for r in records if r.get("event") == _WARNING]
    assert sorted(w["header"] for w in warnings) == ["baggage", "traceparent", "tracestate"]
    for warning in warnings:
        assert warning["level"] == "warning"
        assert warning["logger"] == "obskit.propagation"
        assert c.PROPAGATION_ERRORS in warning["counted_in"]
    leaked = [line for line in output if _SECRET in line]
    assert not leaked, leaked[:2]
    assert len(records) == len(output), "a plain-text line was printed"


def test_repeated_tracestate_headers_are_joined_in_order(
    service: Service, downstream: HeaderRecorder
) -> None:
    """Two ``tracestate`` header fields are one list, joined with a comma in their order (W3C
    Trace Context, RFC 9110): the downstream call made in the request carries both members."""
    parent = new_traceparent()
    headers = [
        ("traceparent", parent.header),
        ("tracestate", "vendor1=a"),
        ("tracestate", "vendor2=b"),
    ]
    n = 9100 + len(service.kind.id)
    with service.client() as client:
        assert client.get(f"/proxy/{n}", headers=headers).status_code == 200
    received = downstream.wait_for_path(f"/downstream/{n}")
    assert received.get("tracestate", "").replace(" ", "") == "vendor1=a,vendor2=b", received
