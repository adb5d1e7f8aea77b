"""OTLP over gRPC, for real: ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` sends a uvicorn service's spans
to a grpcio receiver; a dead gRPC endpoint costs no request; the per-signal protocol variable
wins; without the gRPC exporter package the service warns once and falls back to http/protobuf.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from tests.runtime_e2e._service import Service, run_service
from tests.runtime_grpc._app import BLOCKED_PYTHONPATH, GRPC_GUNICORN_PRELOAD, GRPC_UVICORN
from tests.support import (
    BlackHole,
    OtlpReceiver,
    clean_env,
    closed_port,
    new_traceparent,
)
from tests.support._otlp_grpc import GrpcOtlpReceiver

from obskit import conventions

pytestmark = pytest.mark.e2e

_GRPC = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
_FALLBACK_EVENT = "grpc exporter is not installed"
_SECRET = "s3cr3t-grpc-token"
#: A request blocked on the exporter would take its timeout (1 s here) or more; generous for a
#: shared 2-core machine.
_MAX_LATENCY_S = 0.75


def _get_order(service: Service, order_id: int, headers: dict[str, str] | None = None) -> None:
    with service.client() as client:
        response = client.get(f"/orders/{order_id}", headers=headers)
    assert response.status_code == 200, response.text


def _warnings(service: Service) -> list[dict[str, object]]:
    return [r for r in service.records() if r.get("level") in ("warning", "error", "critical")]


def test_receiver_decodes_what_the_sdk_grpc_exporter_sends(
    grpc_receiver: GrpcOtlpReceiver,
) -> None:
    """The harness itself, without obskit: a span exported by the SDK's own OTLP/gRPC exporter
    arrives at the test receiver with its hex ids, name, attributes and resource."""
    provider = TracerProvider(resource=Resource.create({"service.name": "harness"}))
    exporter = OTLPSpanExporter(endpoint=grpc_receiver.endpoint, insecure=True, timeout=5)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        with provider.get_tracer("t").start_as_current_span("probe", attributes={"k": 7}) as span:
            ctx = span.get_span_context()
    finally:
        provider.shutdown()
    [got] = grpc_receiver.wait_for_trace(f"{ctx.trace_id:032x}", timeout=5)
    assert got.span_id == f"{ctx.span_id:016x}"
    assert (got.name, got.attributes, got.parent_span_id) == ("probe", {"k": 7}, None)
    assert got.resource["service.name"] == "harness"
    assert grpc_receiver.errors == []
    assert "grpc-python" in grpc_receiver.metadata[0]["user-agent"]


def test_server_span_arrives_over_grpc_with_the_access_line_trace_id(
    grpc_receiver: GrpcOtlpReceiver, otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """With ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` and the endpoint on the gRPC receiver, a request's
    server span arrives over gRPC carrying the access line's trace and span ids, the route
    template as its name and the service's resource; an incoming ``traceparent`` is continued;
    ``OTEL_EXPORTER_OTLP_HEADERS`` travel as gRPC metadata and the secret one is never printed;
    every output line is JSON and nothing warns."""
    headers = f"x-obskit-test=grpc-e2e,authorization=Bearer%20{_SECRET}"
    with run_service(
        GRPC_UVICORN,
        otlp_endpoint=grpc_receiver.endpoint,
        tmp_dir=tmp_path,
        extra_env={**_GRPC, "OTEL_EXPORTER_OTLP_HEADERS": headers},
    ) as service:
        _get_order(service, 7)
        access = service.access_line(path="/orders/7")
        [span] = grpc_receiver.wait_for_trace(access["trace_id"], timeout=10)

        parent = new_traceparent()
        _get_order(service, 8, headers={"traceparent": parent.header})
        [child] = grpc_receiver.wait_for_trace(parent.trace_id, timeout=10)
        continued = service.access_line(path="/orders/8")

    assert span.span_id == access["span_id"]
    assert (span.name, span.kind, span.parent_span_id) == ("GET /orders/{order_id}", "SERVER", None)
    assert span.attributes["http.route"] == "/orders/{order_id}"
    assert span.resource["service.name"] == "grpc-fastapi"
    assert span.resource["service.version"] == "0.9.1"
    assert span.resource["deployment.environment.name"] == "grpc-e2e"

    assert child.parent_span_id == parent.parent_span_id
    assert continued["trace_id"] == parent.trace_id
    assert child.span_id == continued["span_id"]

    assert grpc_receiver.errors == []
    for metadata in grpc_receiver.metadata:
        assert "OTel-OTLP-Exporter-Python" in metadata["user-agent"]
        assert metadata["x-obskit-test"] == "grpc-e2e"
        assert metadata["authorization"] == f"Bearer {_SECRET}"
    printed = [t for t in service.proc.texts() if _SECRET in t]
    assert printed == [], printed
    assert otlp_receiver.spans == [], "spans went over http/protobuf too"
    records = service.records()
    assert len(records) == len(service.proc.lines), (
        "a non-JSON line:\n" + service.proc.output_tail()
    )
    assert _warnings(service) == []


@pytest.mark.parametrize(
    ("generic", "traces", "target"),
    [("http/protobuf", "grpc", "grpc"), ("grpc", "http/protobuf", "http")],
    ids=["traces-grpc-over-generic-http", "traces-http-over-generic-grpc"],
)
def test_traces_protocol_variable_overrides_the_generic_one(
    generic: str,
    traces: str,
    target: str,
    grpc_receiver: GrpcOtlpReceiver,
    otlp_receiver: OtlpReceiver,
    tmp_path: Path,
) -> None:
    """``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` wins over ``OTEL_EXPORTER_OTLP_PROTOCOL`` in both
    directions: the span arrives at the receiver speaking the traces protocol (an exporter
    speaking the other protocol could not deliver to it), and nothing warns."""
    receiver: GrpcOtlpReceiver | OtlpReceiver = grpc_receiver if target == "grpc" else otlp_receiver
    with run_service(
        GRPC_UVICORN,
        otlp_endpoint=receiver.endpoint,
        tmp_dir=tmp_path,
        extra_env={
            "OTEL_EXPORTER_OTLP_PROTOCOL": generic,
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": traces,
        },
    ) as service:
        _get_order(service, 11)
        access = service.access_line(path="/orders/11")
        [span] = receiver.wait_for_trace(access["trace_id"], timeout=10)
        assert _warnings(service) == []
    assert span.span_id == access["span_id"]
    assert receiver.errors == []


def _unharmed_and_counted(service: Service) -> None:
    """40 requests all succeed quickly and the failed export is counted."""
    latencies = []
    with service.client() as client:
        for i in range(40):
            started = time.perf_counter()
            response = client.get(f"/orders/{i}")
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, f"request {i}: {response.status_code}"
        scraped = service.wait_scrape(
            lambda s: s.value(conventions.SPANS_DROPPED) > 0,
            timeout=15,
            what=f"{conventions.SPANS_DROPPED} > 0",
        )
    assert max(latencies) < _MAX_LATENCY_S, f"slowest request {max(latencies):.3f}s"
    assert statistics.median(latencies) < 0.1, f"median {statistics.median(latencies):.3f}s"
    assert 0 < scraped.value(conventions.SPANS_DROPPED) <= 40


def _one_warning_all_json(service: Service) -> None:
    """Called once the server has stopped: its shutdown flush fails too, and must not warn
    again; and every line it printed (grpc's own included) is JSON."""
    assert [w.get("event") for w in _warnings(service)] == [
        "spans dropped: OTLP endpoint unreachable or slow"
    ], service.proc.output_tail()
    tail = service.proc.output_tail()
    assert len(service.records()) == len(service.proc.lines), "a non-JSON line:\n" + tail


def test_closed_grpc_port_costs_no_failed_or_slow_request(tmp_path: Path) -> None:
    """With the gRPC endpoint on a closed port, 40 requests all succeed quickly, the failed
    export is counted in the dropped-spans metric with one warning line, and grpc prints no
    non-JSON line of its own."""
    endpoint = f"http://127.0.0.1:{closed_port()}"
    with run_service(
        GRPC_UVICORN,
        otlp_endpoint=endpoint,
        tmp_dir=tmp_path,
        extra_env={**_GRPC, "OTEL_EXPORTER_OTLP_TIMEOUT": "1000"},
    ) as service:
        _unharmed_and_counted(service)
    _one_warning_all_json(service)


def test_hung_grpc_endpoint_costs_no_slow_request(tmp_path: Path) -> None:
    """With a gRPC endpoint that accepts TCP connections and never answers (no HTTP/2 handshake:
    a hung collector), requests stay fast, the export times out off the request path and is
    counted, with one warning line."""
    with (
        BlackHole() as hole,
        run_service(
            GRPC_UVICORN,
            otlp_endpoint=hole.endpoint,
            tmp_dir=tmp_path,
            extra_env={**_GRPC, "OTEL_EXPORTER_OTLP_TIMEOUT": "1000"},
        ) as service,
    ):
        _unharmed_and_counted(service)
    assert hole.accepted >= 1, "the exporter never tried the endpoint"
    _one_warning_all_json(service)


def test_preforked_gunicorn_workers_export_over_grpc(
    grpc_receiver: GrpcOtlpReceiver, tmp_path: Path
) -> None:
    """gunicorn ``--preload`` with two uvicorn workers: the gRPC exporter (and its channel) is
    created in the master before the fork, yet each worker exports every span it serves over
    gRPC, with its own ``process.pid`` in the resource."""
    served: dict[str, int] = {}  # trace id -> pid of the worker that served the request
    with run_service(
        GRPC_GUNICORN_PRELOAD,
        otlp_endpoint=grpc_receiver.endpoint,
        tmp_dir=tmp_path,
        extra_env=_GRPC,
    ) as service:
        for i in range(200):  # bounded: until both workers have served a few requests
            with service.client() as client:  # a new connection each time: both workers serve
                response = client.get(f"/orders/{i}")
            assert response.status_code == 200
            access = service.access_line(path=f"/orders/{i}")
            served[access["trace_id"]] = response.json()["pid"]
            pids = list(served.values())
            if i >= 19 and all(pids.count(p) >= 3 for p in set(pids)) and len(set(pids)) == 2:
                break
        spans = grpc_receiver.wait_for(lambda s: s.trace_id in served, count=len(served))
    assert len(set(served.values())) == 2, f"one worker served everything: {set(served.values())}"
    assert len(spans) == len(served)
    for span in spans:
        assert span.resource["process.pid"] == served[span.trace_id], span
    assert grpc_receiver.errors == []


def test_blocker_makes_the_grpc_exporter_unimportable() -> None:
    """The ``sitecustomize`` on ``BLOCKED_PYTHONPATH`` really hides the installed gRPC exporter
    (and only it: the http/protobuf exporter still imports), so the fallback test below tests
    the missing-extra case."""
    env = clean_env({"PYTHONPATH": BLOCKED_PYTHONPATH})
    code = (
        "import importlib, sys\n"
        "import opentelemetry.exporter.otlp.proto.http.trace_exporter\n"
        "try:\n"
        "    importlib.import_module('opentelemetry.exporter.otlp.proto.grpc.trace_exporter')\n"
        "except ImportError as exc:\n"
        "    print('blocked', type(exc).__name__)\n"
        "else:\n"
        "    print('imported')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "blocked ModuleNotFoundError"


def _run_without_grpc_exporter(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> tuple[Service, dict[str, object], str]:
    """Serve with ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` while the gRPC exporter cannot be
    imported; return the stopped service, one request's access line and its span's id."""
    with run_service(
        GRPC_UVICORN,
        otlp_endpoint=otlp_receiver.endpoint,
        tmp_dir=tmp_path,
        extra_env={**_GRPC, "PYTHONPATH": BLOCKED_PYTHONPATH},
    ) as service:
        _get_order(service, 21)
        access = service.access_line(path="/orders/21")
        [span] = otlp_receiver.wait_for_trace(str(access["trace_id"]), timeout=10)
        _get_order(service, 22)
        service.access_line(path="/orders/22")
    return service, access, span.span_id


def test_missing_grpc_exporter_warns_once_and_falls_back_to_http(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """Without the gRPC exporter package, ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` still serves: the
    spans arrive over http/protobuf at the HTTP receiver (same ids as the access line), and the
    fallback is reported exactly once across two requests, naming the extra to install."""
    service, access, span_id = _run_without_grpc_exporter(otlp_receiver, tmp_path)
    assert span_id == access["span_id"]
    assert otlp_receiver.errors == []
    mentions = [t for t in service.proc.texts() if _FALLBACK_EVENT in t]
    assert len(mentions) == 1, service.proc.output_tail()
    assert "obskit[grpc]" in mentions[0]


def test_missing_grpc_exporter_warning_is_one_json_line(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """The fallback warning is one JSON record (level ``warning``, the service's name) and every
    output line stays JSON."""
    service, _, _ = _run_without_grpc_exporter(otlp_receiver, tmp_path)
    fallback = [r for r in service.records() if _FALLBACK_EVENT in str(r.get("problem"))]
    assert len(fallback) == 1, service.proc.output_tail()
    assert fallback[0]["level"] == "warning"
    assert fallback[0]["service"] == "grpc-fastapi"
    assert len(service.records()) == len(service.proc.lines), service.proc.output_tail()
