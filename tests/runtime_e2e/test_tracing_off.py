"""``OTEL_SDK_DISABLED=true``: tracing off, logs and metrics still work (the contract)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.runtime_e2e._service import UVICORN, run_service
from tests.support import OtlpReceiver, new_traceparent

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
