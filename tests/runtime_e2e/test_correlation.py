"""One request, one trace id: access line, structlog and stdlib lines, exemplar and exported span.

Each test runs against every server kind (uvicorn, Flask under gunicorn, gunicorn with two uvicorn
workers), as real processes on 127.0.0.1, with spans exported to a test OTLP/HTTP receiver.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from tests.runtime_e2e._service import Service
from tests.support import (
    HeaderRecorder,
    OtlpReceiver,
    Scrape,
    is_hex_id,
    new_traceparent,
    request_until_close,
)

from obskit import conventions

pytestmark = pytest.mark.e2e

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _unique() -> int:
    return random.randrange(10**8, 10**9)


def _assert_common_fields(record: dict[str, Any], service: Service) -> None:
    assert _TIMESTAMP.match(str(record.get("timestamp"))), record
    assert record.get("service") == service.kind.service_name, record
    assert record.get("service_version") == "1.2.3", record
    assert record.get("environment") == "e2e", record


def _has_exemplar(result: Scrape, route: str, trace_id: str) -> bool:
    return any(
        (s.exemplar or {}).get(conventions.EXEMPLAR_TRACE_ID) == trace_id
        for s in result.exemplars(
            conventions.HTTP_DURATION_BUCKET, **{conventions.LABEL_ROUTE: route}
        )
    )


def test_one_request_has_one_trace_id_in_logs_metrics_and_spans(
    service: Service, session_receiver: OtlpReceiver
) -> None:
    """A request's access line, structlog line, stdlib line, metric exemplar and exported server
    span all carry the same trace id (and the log lines the server span's id)."""
    n = _unique()
    route = service.kind.route("orders")
    with service.client() as client:
        response = client.get(f"/orders/{n}")
    assert response.status_code == 200

    access = service.access_line(path=f"/orders/{n}")
    trace_id, span_id = access.get("trace_id"), access.get("span_id")
    assert is_hex_id(trace_id, 32), access
    assert is_hex_id(span_id, 16), access
    assert access["event"] == "request"
    assert access["level"] == "info"
    assert (access["method"], access["route"], access["status"]) == ("GET", route, 200)
    assert isinstance(access["duration_ms"], float)
    assert 0 <= access["duration_ms"] < 10_000
    assert access["client_addr"] == "127.0.0.1"
    _assert_common_fields(access, service)

    [structlog_line] = service.wait_records(
        lambda r: r.get("event") == "order.structlog" and r.get("order_id") == n,
        what="structlog line",
    )
    assert structlog_line["logger"] == "app.structlog"
    assert (structlog_line.get("trace_id"), structlog_line.get("span_id")) == (trace_id, span_id)
    _assert_common_fields(structlog_line, service)

    [stdlib_line] = service.wait_records(
        lambda r: r.get("event") == f"order.stdlib {n}", what="stdlib line"
    )
    assert stdlib_line["logger"] == "app"
    assert stdlib_line.get("order_id") == n, "stdlib extra= keys are kept"
    assert (stdlib_line.get("trace_id"), stdlib_line.get("span_id")) == (trace_id, span_id)
    _assert_common_fields(stdlib_line, service)

    spans = session_receiver.wait_for_trace(str(trace_id), timeout=15)
    assert len(spans) == 1, f"one server span per request, got {[s.name for s in spans]}"
    [span] = spans
    assert span.span_id == span_id
    assert span.kind == "SERVER"
    assert span.name == f"GET {route}"
    assert span.attributes.get("http.route") == route
    assert span.attributes.get("http.request.method") == "GET"
    assert span.attributes.get("http.response.status_code") == 200
    assert span.attributes.get("url.path") == f"/orders/{n}"
    assert span.status_code != "ERROR"
    assert span.resource.get("service.name") == service.kind.service_name
    assert span.resource.get("service.version") == "1.2.3"

    # In multi-worker mode an exemplar may lag its count by up to a second: poll.
    service.wait_scrape(
        lambda s: _has_exemplar(s, route, str(trace_id)),
        timeout=10,
        what=f"an exemplar trace_id={trace_id} on {conventions.HTTP_DURATION_BUCKET}",
    )


def test_each_asgi_kind_serves_on_its_parser_and_loop(service: Service) -> None:
    """The suite covers both ways uvicorn is installed: plain ``uvicorn`` (h11, asyncio) and
    ``uvicorn[standard]`` (httptools, uvloop, which the gunicorn kind's uvicorn workers take by
    default).  If uvloop or httptools went missing, uvicorn's ``auto`` would fall back without
    a word and every test above would pass on the wrong stack: this one fails instead."""
    expected = service.kind.stack
    if expected is None:
        pytest.skip("a WSGI kind: no ASGI parser or event loop")
    with service.client() as client:
        answers = [client.get("/whoami").json() for _ in range(6)]  # several workers' answers
    assert {(a["http"], a["loop"]) for a in answers} == {expected}


def test_incoming_traceparent_is_continued(
    service: Service, session_receiver: OtlpReceiver
) -> None:
    """A sampled incoming W3C ``traceparent`` is continued: same trace id in the logs and the
    exported server span, whose parent is the caller's span."""
    n = _unique()
    parent = new_traceparent(sampled=True)
    with service.client() as client:
        response = client.get(f"/items/{n}", headers={"traceparent": parent.header})
    assert response.status_code == 200

    access = service.access_line(path=f"/items/{n}")
    assert access.get("trace_id") == parent.trace_id
    [line] = service.wait_records(
        lambda r: r.get("event") == "item.structlog" and r.get("item_id") == n
    )
    assert line.get("trace_id") == parent.trace_id

    [span] = session_receiver.wait_for_trace(parent.trace_id, timeout=15)
    assert span.parent_span_id == parent.parent_span_id
    assert span.span_id == access.get("span_id")
    assert span.name == f"GET {service.kind.route('items')}"


def test_unsampled_request_keeps_ids_in_logs_but_exports_no_span_or_exemplar(
    service: Service, session_receiver: OtlpReceiver
) -> None:
    """An incoming not-sampled ``traceparent`` (flags 00) is honoured by the parent-based
    sampler: log lines still carry its trace id and a span id, but no span is exported and no
    exemplar carries it."""
    n, marker_n = _unique(), _unique()
    unsampled, marker = new_traceparent(sampled=False), new_traceparent(sampled=True)
    with service.client() as client:
        assert client.get(f"/items/{n}", headers={"traceparent": unsampled.header}).is_success
        # A sampled request afterwards, on the same connection (same worker): once its span
        # has been exported, a span of the earlier request would have been too.
        assert client.get(f"/items/{marker_n}", headers={"traceparent": marker.header}).is_success

    access = service.access_line(path=f"/items/{n}")
    assert access.get("trace_id") == unsampled.trace_id
    assert is_hex_id(access.get("span_id"), 16), access
    [line] = service.wait_records(
        lambda r: r.get("event") == "item.structlog" and r.get("item_id") == n
    )
    assert (line.get("trace_id"), line.get("span_id")) == (unsampled.trace_id, access["span_id"])

    session_receiver.wait_for_trace(marker.trace_id, timeout=15)
    assert session_receiver.spans_for(unsampled.trace_id) == []
    route = service.kind.route("items")
    service.wait_scrape(lambda s: _has_exemplar(s, route, marker.trace_id), timeout=10)
    assert not any(
        unsampled.trace_id in (s.exemplar or {}).values()
        for s in service.scrape().exemplars(conventions.HTTP_DURATION_BUCKET)
    )


def test_exception_is_logged_once_as_json_with_the_request_ids(
    service: Service, session_receiver: OtlpReceiver
) -> None:
    """A handler that raises gives a 500, an access line with status 500, exactly one error line
    carrying the exception (type, message, traceback) and the request's trace id, an ERROR span
    with ``error.type`` and the exception recorded on it, and a 500 in the metrics."""
    route = service.kind.route("boom")
    # Read until the server closes the connection: by then it has logged all it will log about
    # the failure (uvicorn logs an escaped exception before closing).
    status, _ = request_until_close(service.port, "/boom")
    assert status == 500
    # Barrier: once a later request's access line is read, every line written before it is too.
    barrier = _unique()
    with service.client() as client:
        assert client.get(f"/items/{barrier}").is_success
    service.access_line(path=f"/items/{barrier}")

    access = service.access_line(path="/boom")
    assert (access["status"], access["route"]) == (500, route)
    failures = [
        r
        for r in service.records()
        if "boom-marker" in str(r.get("exception", "")) or "boom-marker" in str(r.get("event"))
    ]
    assert len(failures) == 1, f"the exception must be logged exactly once: {failures}"
    [failure] = failures
    assert failure["level"] == "error"
    exception = failure.get("exception")
    assert isinstance(exception, dict), failure
    assert exception.get("type") == "RuntimeError"
    assert "boom-marker" in str(exception.get("message"))
    assert str(exception.get("traceback", "")).startswith("Traceback (most recent call last)")
    assert failure.get("trace_id") == access["trace_id"]

    [span] = session_receiver.wait_for_trace(access["trace_id"], timeout=15)
    assert span.status_code == "ERROR"
    assert span.attributes.get("http.response.status_code") == 500
    assert span.attributes.get("error.type") == "RuntimeError", span.attributes
    [(_, event)] = [e for e in span.events if e[0] == "exception"]
    assert event.get("exception.type") == "RuntimeError", event
    assert "boom-marker" in str(event.get("exception.message")), event

    service.wait_scrape(
        lambda s: (
            s.value(
                conventions.HTTP_DURATION_COUNT,
                **{conventions.LABEL_ROUTE: route, conventions.LABEL_STATUS: "500"},
            )
            >= 1
        ),
        what=f"a 500 counted on {route}",
    )


def test_bound_contextvars_are_on_this_request_lines_only(service: Service) -> None:
    """A field the handler binds with ``structlog.contextvars.bind_contextvars`` is on every log
    line of that request — structlog, stdlib and access — and on none of the next request's,
    served on the same connection (same worker, for a sync worker the same thread)."""
    n, later = _unique(), _unique()
    with service.client() as client:
        assert client.get(f"/orders/{n}").status_code == 200
        assert client.get(f"/items/{later}").status_code == 200
    access = service.access_line(path=f"/orders/{n}")
    [structlog_line] = service.wait_records(
        lambda r: r.get("event") == "order.structlog" and r.get("order_id") == n
    )
    [stdlib_line] = service.wait_records(lambda r: r.get("event") == f"order.stdlib {n}")
    later_access = service.access_line(path=f"/items/{later}")
    [later_line] = service.wait_records(
        lambda r: r.get("event") == "item.structlog" and r.get("item_id") == later
    )
    tag = f"order-{n}"
    seen = {
        "structlog line": structlog_line.get("request_tag"),
        "stdlib line": stdlib_line.get("request_tag"),
        "access line": access.get("request_tag"),
        "next request's structlog line": later_line.get("request_tag"),
        "next request's access line": later_access.get("request_tag"),
    }
    assert seen == {
        "structlog line": tag,
        "stdlib line": tag,
        "access line": tag,
        "next request's structlog line": None,
        "next request's access line": None,
    }


def test_outgoing_call_is_one_client_span_and_carries_the_trace(
    service: Service, session_receiver: OtlpReceiver, downstream: HeaderRecorder
) -> None:
    """The app's outgoing ``requests`` call is instrumented through the installed instrumentor
    entry points: exactly one CLIENT span, child of the server span (nothing instrumented twice),
    and the downstream receives a ``traceparent`` of the same trace whose parent is that span."""
    n = _unique()
    with service.client() as client:
        assert client.get(f"/proxy/{n}").status_code == 200
    headers = downstream.wait_for_path(f"/downstream/{n}")
    access = service.access_line(path=f"/proxy/{n}")
    assert "traceparent" in headers, headers
    _, trace_id, parent_id, flags = headers["traceparent"].split("-")
    assert trace_id == access["trace_id"]
    assert int(flags, 16) & 0x01, f"sampled flag not set: {headers['traceparent']}"

    spans = session_receiver.wait_for_trace(trace_id, count=2, timeout=15)
    kinds = sorted(s.kind for s in spans)
    assert kinds == ["CLIENT", "SERVER"], [(s.kind, s.name) for s in spans]
    [server] = [s for s in spans if s.kind == "SERVER"]
    [outgoing] = [s for s in spans if s.kind == "CLIENT"]
    assert server.span_id == access["span_id"]
    assert outgoing.parent_span_id == server.span_id
    assert parent_id == outgoing.span_id
