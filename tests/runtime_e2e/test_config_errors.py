"""Exporter configuration mistakes on a real server: named as configuration errors at start-up (one
JSON line naming the variable), not reported later as "endpoint unreachable or slow"."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.runtime_e2e._service import UVICORN, run_service
from tests.support import OtlpReceiver, free_port

from obskit import conventions as c

pytestmark = pytest.mark.e2e

_UNREACHABLE = "spans dropped: OTLP endpoint unreachable or slow"


@pytest.mark.parametrize(
    ("endpoint", "extra", "variable", "using"),
    [
        ("not-a-url", {}, "OTEL_EXPORTER_OTLP_ENDPOINT", "no span export"),
        (
            "https://127.0.0.1:{port}",
            {"OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"},
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "the system's trusted CA certificates",
        ),
        (
            "http://127.0.0.1:4318",
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "the endpoint as given",
        ),
        (
            "http://127.0.0.1:4317",
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "the endpoint as given",
        ),
    ],
    ids=["not-a-url", "missing-certificate", "grpc-on-http-port", "http-on-grpc-port"],
)
def test_exporter_configuration_error_is_named_at_start_up(
    tmp_path: Path, endpoint: str, extra: dict[str, str], variable: str, using: str
) -> None:
    """uvicorn starts and serves; before any request, one JSON warning names the variable, the
    problem and what is used instead; every output line is JSON."""
    with run_service(
        UVICORN,
        otlp_endpoint=endpoint.format(port=free_port()),
        tmp_dir=tmp_path,
        extra_env={**extra, "OTEL_EXPORTER_OTLP_TIMEOUT": "300"},
    ) as service:
        [line] = service.wait_records(
            lambda r: r.get("event") == "invalid setting", what="the configuration warning"
        )
        with service.client() as client:
            assert client.get("/items/1").status_code == 200
        service.access_line(path="/items/1")
    records = service.records()  # the server has stopped: all of its output
    assert line["variable"] == variable
    assert line["level"] == "warning"
    assert line["using"].startswith(using)
    assert line["problem"]
    assert len(records) == len(service.proc.lines), service.proc.output_tail()
    assert [r for r in records if r.get("event") == "invalid setting"] == [line]


def test_endpoint_that_is_not_a_url_turns_export_off_without_unreachable_warnings(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """``OTEL_EXPORTER_OTLP_ENDPOINT=not-a-url``: requests keep their trace ids in the logs, no
    span is counted as dropped and no "unreachable" warning follows the start-up line."""
    with run_service(UVICORN, otlp_endpoint="not-a-url", tmp_dir=tmp_path) as service:
        with service.client() as client:
            for i in range(5):
                assert client.get(f"/items/{i}").status_code == 200
        access = service.access_line(path="/items/4")
        scrape = service.wait_scrape(
            lambda s: s.value(c.HTTP_DURATION_COUNT) >= 5, what="5 requests"
        )
        records = service.records()
    assert "trace_id" in access
    assert scrape.value(c.SPANS_DROPPED) == 0
    assert not [r for r in records if r.get("event") == _UNREACHABLE]
