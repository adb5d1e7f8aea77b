"""Self-tests of the reusable harness in ``tests/support`` (receiver, process runner, parsers)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CollectorRegistry, Histogram, start_http_server
from tests.support import (
    BlackHole,
    HeaderRecorder,
    OtlpReceiver,
    ProcessExitedError,
    ServerProcess,
    assert_all_json,
    closed_port,
    free_port,
    is_hex_id,
    new_traceparent,
    port_answers,
    scrape,
    walk_values,
)


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_receiver_decodes_spans_from_the_real_exporter(
    otlp_receiver: OtlpReceiver, compression: Compression
) -> None:
    """Spans sent by the real OTLP/HTTP exporter (plain and gzip) arrive decoded: hex ids,
    parent id, kind, attributes, status and resource."""
    provider = TracerProvider(resource=Resource.create({"service.name": "harness"}))
    exporter = OTLPSpanExporter(endpoint=otlp_receiver.traces_url, compression=compression)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("harness-test")
    with (
        tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent,
        tracer.start_as_current_span("child", attributes={"n": 3, "tags": ["a", "b"]}) as child,
    ):
        child.set_status(Status(StatusCode.ERROR, "broken"))
    provider.shutdown()

    trace_id = format(parent.get_span_context().trace_id, "032x")
    spans = {s.name: s for s in otlp_receiver.wait_for_trace(trace_id, count=2, timeout=5)}
    assert spans["parent"].kind == "SERVER"
    assert spans["parent"].parent_span_id is None
    assert spans["child"].parent_span_id == spans["parent"].span_id
    assert is_hex_id(spans["child"].span_id, 16)
    assert spans["child"].attributes == {"n": 3, "tags": ["a", "b"]}
    assert (spans["child"].status_code, spans["child"].status_message) == ("ERROR", "broken")
    assert spans["parent"].resource["service.name"] == "harness"
    assert otlp_receiver.errors == []


def _export(endpoint: str, names: list[str]) -> None:
    """Send spans named ``names`` through the real OTLP/HTTP exporter (gzip), one export each."""
    provider = TracerProvider()
    exporter = OTLPSpanExporter(endpoint=endpoint, compression=Compression.Gzip)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for name in names:
        provider.get_tracer("harness-test").start_span(name).end()
    provider.shutdown()


def test_receiver_in_count_only_mode_counts_spans_and_keeps_none() -> None:
    """``keep_spans=False`` (the benchmarks' mode): every exported span is counted in
    ``span_count`` and ``/stats``, none is kept; an undecodable body is a 400 and an error."""
    with OtlpReceiver(keep_spans=False) as receiver:
        _export(receiver.traces_url, ["a", "b", "c"])
        bad = httpx.post(receiver.traces_url, content=b"\xff not protobuf")
        stats = httpx.get(f"{receiver.endpoint}/stats").json()
    assert bad.status_code == 400
    assert stats == {"requests": 3, "spans": 3, "errors": 1}
    assert (receiver.span_count, receiver.spans) == (3, [])


def test_benchmark_receiver_is_the_harness_receiver_in_its_own_process() -> None:
    """``benchmarks/_receiver.py`` runs this receiver in count-only mode in a child process:
    it prints its port, counts what the real exporter sends (``/stats``), and exits when its
    stdin closes (no orphan after an interrupted benchmark)."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "_receiver.py"
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        endpoint = f"http://127.0.0.1:{int(proc.stdout.readline())}"
        _export(f"{endpoint}/v1/traces", ["x", "y"])
        stats = httpx.get(f"{endpoint}/stats").json()
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert stats == {"requests": 2, "spans": 2, "errors": 0}


def test_receiver_wait_times_out_with_a_clear_message(otlp_receiver: OtlpReceiver) -> None:
    """Waiting for spans that never come fails within the timeout and says what arrived."""
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="0/1 matching spans"):
        otlp_receiver.wait_for_trace("ab" * 16, timeout=0.3)
    assert time.monotonic() - started < 2


_CHILD_SERVER = textwrap.dedent(
    """
    import http.server, subprocess, sys, time
    port = int(sys.argv[1])
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print(f"grandchild {grandchild.pid}", flush=True)
    print("to stderr", file=sys.stderr, flush=True)
    time.sleep(0.2)
    http.server.HTTPServer(("127.0.0.1", port), http.server.BaseHTTPRequestHandler).serve_forever()
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); read its state.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1][0] != "Z"


def test_process_runner_captures_lines_and_stops_the_whole_group() -> None:
    """A started server is awaited on its port, its stdout/stderr lines are captured, and stop()
    ends it and its own children (the process group)."""
    port = free_port()
    proc = ServerProcess([sys.executable, "-c", _CHILD_SERVER, str(port)], name="child")
    with proc:
        proc.wait_for_port(port, timeout=10)
        line = proc.wait_for_line(lambda t: t.startswith("grandchild "), timeout=5)
        grandchild = int(line.split()[1])
        proc.wait_for_line(lambda t: t == "to stderr", timeout=5)
        assert {ln.stream for ln in proc.lines} == {"stdout", "stderr"}
        assert _alive(grandchild)
    assert not proc.running()
    assert not port_answers(port)
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild), "the server's child outlived stop()"


def test_process_runner_reports_an_early_exit_with_its_output() -> None:
    """A server that dies before its port answers fails fast, quoting what it printed."""
    code = "import sys; print('bad config', file=sys.stderr); sys.exit(3)"
    with ServerProcess([sys.executable, "-c", code], name="dies") as proc:
        started = time.monotonic()
        with pytest.raises(ProcessExitedError, match="bad config"):
            proc.wait_for_port(free_port(), timeout=10)
        assert time.monotonic() - started < 5
        assert proc.returncode == 3


def test_process_runner_escalates_to_sigkill() -> None:
    """A server that ignores SIGTERM is killed after the grace period."""
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    proc = ServerProcess([sys.executable, "-c", code], name="stubborn").start()
    proc.wait_for_line(lambda t: t == "up", timeout=10)
    started = time.monotonic()
    assert proc.stop(timeout=0.5) == -9
    assert time.monotonic() - started < 5


def test_json_line_checks() -> None:
    """Plain text lines are rejected and named; nested values are all visited."""
    assert assert_all_json(['{"a": 1}']) == [{"a": 1}]
    with pytest.raises(AssertionError, match="INFO:     Started server"):
        assert_all_json(['{"a": 1}', "INFO:     Started server process [1]"])
    with pytest.raises(AssertionError):
        assert_all_json(["[1, 2]"])  # JSON, but not an object
    assert set(walk_values({"h": {"authorization": "s3"}, "l": [1, {"k": None}]})) == {
        "h",
        "authorization",
        "s3",
        "l",
        "1",
        "k",
    }


def test_scrape_reads_openmetrics_exemplars() -> None:
    """scrape() asks for OpenMetrics and returns samples with their exemplars."""
    registry = CollectorRegistry()
    histogram = Histogram("demo_seconds", "demo", ["route"], registry=registry)
    histogram.labels("/a").observe(0.02, exemplar={"trace_id": "f" * 32})
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        result = scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        server.shutdown()
        thread.join(5)
    assert result.value("demo_seconds_count", route="/a") == 1
    [with_exemplar] = list(result.exemplars("demo_seconds_bucket", route="/a"))
    assert with_exemplar.exemplar == {"trace_id": "f" * 32}
    assert with_exemplar.labels["le"] == "0.025"


def test_ports_and_traceparent_helpers() -> None:
    """A closed port refuses, a black hole accepts and never answers, traceparents are valid."""
    assert not port_answers(closed_port())
    with BlackHole() as hole, socket.create_connection(("127.0.0.1", hole.port), 1) as conn:
        conn.settimeout(0.2)
        conn.sendall(b"POST /v1/traces HTTP/1.1\r\n\r\n")
        with pytest.raises(TimeoutError):
            conn.recv(1)
    tp = new_traceparent(sampled=False)
    assert tp.header == f"00-{tp.trace_id}-{tp.parent_span_id}-00"
    assert is_hex_id(tp.trace_id, 32)
    assert is_hex_id(tp.parent_span_id, 16)


def test_header_recorder_keeps_what_a_downstream_receives() -> None:
    """The recorder answers 200 and returns the headers of a request, keyed in lower case."""
    with HeaderRecorder() as recorder:
        response = httpx.get(f"{recorder.url}/down/1", headers={"Traceparent": "00-ab-cd-01"})
        assert response.status_code == 200
        assert recorder.wait_for_path("/down/1", timeout=5)["traceparent"] == "00-ab-cd-01"
        with pytest.raises(TimeoutError):
            recorder.wait_for_path("/never", timeout=0.2)


def test_process_runner_can_give_the_child_a_terminal() -> None:
    """With ``tty=True`` the child's stdout and stderr are a terminal, read as one stream."""
    code = (
        "import sys; print(sys.stdout.isatty(), sys.stderr.isatty()); print('e', file=sys.stderr)"
    )
    with ServerProcess([sys.executable, "-c", code], name="tty", tty=True) as proc:
        assert proc.wait_for_line(lambda t: "True" in t, timeout=10) == "True True"
        proc.wait_for_line(lambda t: t == "e", timeout=10)
    assert {ln.stream for ln in proc.lines} == {"tty"}
