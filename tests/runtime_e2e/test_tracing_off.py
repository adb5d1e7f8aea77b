"""Tracing off (``OTEL_SDK_DISABLED``), sampling off (``always_off``) or by ratio: logs and
metrics keep working, and what is exported matches what exemplars point to."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.runtime_e2e._service import UVICORN, run_service
from tests.support import OtlpReceiver, is_hex_id, new_traceparent

from obskit import conventions

pytestmark = pytest.mark.e2e


def test_sdk_disabled_keeps_logs_and_metrics_without_ids_or_spans(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """With the OpenTelemetry SDK disabled the service serves, its access and app lines are JSON
    without trace/span ids, requests are counted without exemplars, and nothing is exported —
    not even at shutdown."""
    with run_service(
        UVICORN,
        otlp_endpoint=otlp_receiver.endpoint,
        tmp_dir=tmp_path,
        extra_env={"OTEL_SDK_DISABLED": "true"},
    ) as service:
        with service.client() as client:
            for i in range(3):
                headers = {"traceparent": new_traceparent().header}
                assert client.get(f"/items/{i}", headers=headers).status_code == 200
        access = service.access_line(path="/items/2")
        [line] = service.wait_records(
            lambda r: r.get("event") == "item.structlog" and r.get("item_id") == 2
        )
        route = {conventions.LABEL_ROUTE: UVICORN.route("items")}
        result = service.wait_scrape(
            lambda s: s.value(conventions.HTTP_DURATION_COUNT, **route) >= 3, what="3 requests"
        )
    for record in (access, line):
        assert "trace_id" not in record, record
        assert "span_id" not in record, record
    assert result.value(conventions.HTTP_DURATION_COUNT, **route) == 3
    assert not list(result.exemplars(conventions.HTTP_DURATION_BUCKET))
    assert otlp_receiver.spans == [], "spans exported with the SDK disabled"


def test_sampler_always_off_keeps_ids_in_logs_but_exports_nothing(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """``OTEL_TRACES_SAMPLER=always_off`` (root requests not sampled): each request's lines still
    carry one trace id and span id, distinct per request, while no span is exported and no
    exemplar is attached."""
    with run_service(
        UVICORN,
        otlp_endpoint=otlp_receiver.endpoint,
        tmp_dir=tmp_path,
        extra_env={"OTEL_TRACES_SAMPLER": "always_off"},
    ) as service:
        with service.client() as client:
            for i in range(3):
                assert client.get(f"/items/{i}").status_code == 200
        ids = []
        for i in range(3):
            access = service.access_line(path=f"/items/{i}")
            [line] = service.wait_records(
                lambda r, i=i: r.get("event") == "item.structlog" and r.get("item_id") == i
            )
            assert is_hex_id(access.get("trace_id"), 32), access
            assert is_hex_id(access.get("span_id"), 16), access
            assert (line.get("trace_id"), line.get("span_id")) == (
                access["trace_id"],
                access["span_id"],
            )
            ids.append(access["trace_id"])
        route = {conventions.LABEL_ROUTE: UVICORN.route("items")}
        result = service.wait_scrape(
            lambda s: s.value(conventions.HTTP_DURATION_COUNT, **route) >= 3, what="3 requests"
        )
    assert len(set(ids)) == 3, ids
    assert not list(result.exemplars(conventions.HTTP_DURATION_BUCKET))
    assert otlp_receiver.spans == [], "spans exported with sampling off"


def test_ratio_sampler_exports_about_that_share_and_exemplars_link_only_exported_traces(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """``traceidratio`` at 0.5: of 200 requests, about half the server spans are exported (within
    ±6 standard deviations), every exported span belongs to a logged request, and every exemplar
    names an exported trace (no exemplar links to a trace that was never sent)."""
    requests = 200
    with run_service(
        UVICORN,
        otlp_endpoint=otlp_receiver.endpoint,
        tmp_dir=tmp_path,
        extra_env={"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"},
    ) as service:
        with service.client() as client:
            for i in range(requests):
                assert client.get(f"/items/{i}").status_code == 200
        service.access_line(path=f"/items/{requests - 1}")
        route = {conventions.LABEL_ROUTE: UVICORN.route("items")}
        result = service.wait_scrape(
            lambda s: s.value(conventions.HTTP_DURATION_COUNT, **route) >= requests,
            what=f"{requests} requests",
        )
        logged = {r["trace_id"] for r in service.records() if r.get("logger") == "obskit.access"}
    # Stopped: the exit flush has sent every sampled span.
    exported = {s.trace_id for s in otlp_receiver.spans if s.kind == "SERVER"}
    assert 100 - 6 * 7.1 <= len(exported) <= 100 + 6 * 7.1, len(exported)
    assert exported <= logged
    exemplar_ids = {
        (s.exemplar or {}).get(conventions.EXEMPLAR_TRACE_ID)
        for s in result.exemplars(conventions.HTTP_DURATION_BUCKET)
    }
    assert exemplar_ids, "no exemplar at all"
    assert exemplar_ids <= exported, exemplar_ids - exported
