"""obskit's keep-alive OTLP/HTTP transport sends what upstream's own transport sends.

A real HTTP server on 127.0.0.1 (``http.server``, one thread per connection, HTTP/1.1
keep-alive) records every POST: the client's port (one connection or several), the headers and
the body.  The same spans go through upstream's own ``OTLPSpanExporter`` (``requests``, or
urllib3 on 1.45.0) and through obskit's exporter, and the two requests are compared.
"""

from __future__ import annotations

import gzip
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult

from obskit._runtime.tracing.otlp import make_exporter
from obskit._runtime.tracing.transport import KeepAliveTransport, keepalive_refusal

_HEADERS = ("content-type", "content-encoding", "user-agent", "x-tenant", "authorization")


@dataclass
class _Post:
    port: int
    headers: dict[str, str]
    body: bytes


@dataclass
class _Server:
    """Records POSTs; ``script`` holds the statuses to answer next (then 200)."""

    posts: list[_Post] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    close_after_reply: bool = False
    #: ``(received, answer)``: set ``received`` on the next POST and wait for ``answer``.
    hold: tuple[threading.Event, threading.Event] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


@pytest.fixture
def server() -> Iterator[_Server]:
    """A recording OTLP/HTTP server on a free port (``server.url`` is the traces URL)."""
    state = _Server()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                state.posts.append(
                    _Post(
                        self.client_address[1],
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                status, extra = state.script.pop(0) if state.script else (200, {})
                hold, state.hold = state.hold, None
            if hold is not None:
                hold[0].set()
                hold[1].wait(30)
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if state.close_after_reply:
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            """No stderr line per request."""

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1/traces"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _spans(count: int) -> list[ReadableSpan]:
    tracer = TracerProvider().get_tracer("transport-test")
    spans = []
    for i in range(count):
        span = tracer.start_span(f"span {i}", attributes={"i": i, "k": "v"})
        span.end()
        spans.append(span)  # type: ignore[arg-type]
    return spans


def _message(post: _Post) -> ExportTraceServiceRequest:
    body = post.body
    if post.headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return ExportTraceServiceRequest.FromString(body)


def test_plain_http_endpoints_get_the_keepalive_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``http://`` endpoint is sent through obskit's transport; HTTPS, a proxy that applies
    to the endpoint, a ``.netrc`` file and a credential provider keep upstream's own transport
    (``requests`` honours them), each with its reason."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", "/nonexistent/netrc")
    exporter = make_exporter(lambda exc: None, endpoint="http://127.0.0.1:4318/v1/traces")
    assert isinstance(exporter.transport, KeepAliveTransport)
    assert exporter._client._transport is exporter.transport
    assert exporter.transport_kept is None

    https = make_exporter(lambda exc: None, endpoint="https://collector:4318/v1/traces")
    assert https.transport is None
    assert https.transport_kept == "not a plain http:// endpoint"
    # Upstream's own transport (requests on 1.45.2, urllib3 on 1.45.0 without a session).
    assert type(https._client._transport).__module__.startswith("opentelemetry.exporter.http.")

    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    assert keepalive_refusal("http://collector:4318/v1/traces") == (
        "a proxy variable applies to the endpoint"
    )
    monkeypatch.setenv("NO_PROXY", "collector")
    assert keepalive_refusal("http://collector:4318/v1/traces") is None
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.setenv("NETRC", __file__)  # any file that exists
    assert keepalive_refusal("http://collector:4318/v1/traces") == "a .netrc file exists"
    monkeypatch.setenv("NETRC", "/nonexistent/netrc")
    monkeypatch.setenv("OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER", "vault")
    assert keepalive_refusal("http://collector:4318/v1/traces") == (
        "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER is set"
    )


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_same_request_as_upstreams_and_one_connection_for_every_batch(
    server: _Server, compression: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same spans exported by upstream's ``OTLPSpanExporter`` and by obskit's give the same
    OTLP message and the same OTLP headers (content type, encoding, user agent, the
    ``OTEL_EXPORTER_OTLP_HEADERS`` ones); obskit's three batches travel on one connection."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=a,authorization=Bearer%20t")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", compression)
    spans = _spans(3)
    upstream = OTLPSpanExporter(endpoint=server.url, timeout=5)
    assert upstream.export(spans) is SpanExportResult.SUCCESS
    ours = make_exporter(lambda exc: None, endpoint=server.url, timeout=5)
    assert isinstance(ours.transport, KeepAliveTransport)
    for _ in range(3):
        assert ours.export(spans) is SpanExportResult.SUCCESS
    theirs, *mine = server.posts
    assert len(mine) == 3
    assert len({post.port for post in mine}) == 1  # kept alive
    for post in mine:
        assert _message(post) == _message(theirs)
        assert {k: post.headers.get(k) for k in _HEADERS} == {
            k: theirs.headers.get(k) for k in _HEADERS
        }
    assert theirs.headers["x-tenant"] == "a"
    assert theirs.headers.get("content-encoding") == (None if compression == "none" else "gzip")


def test_retryable_answers_are_retried_and_others_fail_once(server: _Server) -> None:
    """Upstream's retry policy runs unchanged over obskit's transport: a 503 with
    ``Retry-After: 0`` is retried (then succeeds); a 400 fails at once, as a network failure
    (no own-path error)."""
    exporter = make_exporter(lambda exc: None, endpoint=server.url, timeout=5)
    server.script = [(503, {"Retry-After": "0"})]
    assert exporter.export(_spans(1)) is SpanExportResult.SUCCESS
    assert len(server.posts) == 2
    server.script = [(400, {})]
    assert exporter.export(_spans(1)) is SpanExportResult.FAILURE
    assert len(server.posts) == 3
    assert exporter.own_failure is None


def test_a_connection_the_server_closed_is_reopened(server: _Server) -> None:
    """A server that closes the connection after each answer (an idle timeout, a restart): every
    export still succeeds, each on a new connection."""
    server.close_after_reply = True
    exporter = make_exporter(lambda exc: None, endpoint=server.url, timeout=5)
    for _ in range(3):
        assert exporter.export(_spans(2)) is SpanExportResult.SUCCESS
    assert len(server.posts) == 3
    assert len({post.port for post in server.posts}) == 3


def test_a_bug_in_the_transport_is_obskits_failure_not_the_networks(server: _Server) -> None:
    """An exception of the transport's own (not a network error) never escapes into upstream's
    retry loop: the batch fails once and the exporter names obskit's transport as the cause."""
    exporter = make_exporter(lambda exc: None, endpoint=server.url, timeout=5)
    transport = exporter.transport
    assert transport is not None

    def broken(*args: Any) -> Any:
        raise ValueError("transport bug")

    transport._request = broken  # type: ignore[method-assign]
    assert exporter.export(_spans(1)) is SpanExportResult.FAILURE
    assert server.posts == []
    assert exporter.own_failure is not None
    assert "obskit's OTLP transport failed" in exporter.own_failure
    assert "transport bug" in exporter.own_failure


def test_a_forked_child_opens_its_own_connection(server: _Server, tmp_path: Path) -> None:
    """After a fork the child never writes on the parent's socket: parent, child, parent again
    all export, the child on a connection of its own, the parent still on its first one."""
    transport = KeepAliveTransport()
    headers = {"content-type": "application/x-protobuf"}
    assert transport.request("POST", server.url, headers=headers, data=b"", timeout=5).status_code
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        result = transport.request("POST", server.url, headers=headers, data=b"", timeout=5)
        os._exit(0 if result.status_code == 200 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    again = transport.request("POST", server.url, headers=headers, data=b"", timeout=5)
    assert again.status_code == 200
    parent_first, child, parent_again = (post.port for post in server.posts)
    assert parent_first == parent_again != child


def test_close_during_a_post_ends_that_post_at_once_as_a_network_failure(server: _Server) -> None:
    """``close()`` (the exporter's shutdown) while a POST waits for its answer: the POST returns
    at once, not when the server answers or the timeout ends, with a network error (retryable
    by upstream's rules, never reported as obskit's own failure)."""
    transport = KeepAliveTransport()
    headers = {"content-type": "application/x-protobuf"}
    answer = threading.Event()
    received = threading.Event()
    server.hold = (received, answer)
    results: list[Any] = []
    started = time.monotonic()
    worker = threading.Thread(
        target=lambda: results.append(
            transport.request("POST", server.url, headers=headers, data=b"x", timeout=30)
        )
    )
    worker.start()
    try:
        assert received.wait(10), "the server never got the POST"
        transport.close()
        worker.join(5)
        assert not worker.is_alive(), "the POST still waits after close()"
        (result,) = results
        assert time.monotonic() - started < 5
        assert result.error is not None
        assert result.status_code is None
        assert transport.is_connection_error(result.error)
        assert transport.own_error is None
    finally:
        answer.set()
        worker.join(5)


def test_exporter_shutdown_during_an_export_ends_it_without_a_retry(server: _Server) -> None:
    """The exporter's ``shutdown()`` (what obskit's processor calls once its shutdown timeout is
    spent) while a batch waits on a collector that does not answer: the export fails at once,
    is not retried, and is not blamed on obskit's own path."""
    exporter = make_exporter(lambda exc: None, endpoint=server.url, timeout=30)
    received, answer = threading.Event(), threading.Event()
    server.hold = (received, answer)
    results: list[SpanExportResult] = []
    worker = threading.Thread(target=lambda: results.append(exporter.export(_spans(3))))
    worker.start()
    try:
        assert received.wait(10), "the server never got the POST"
        started = time.monotonic()
        exporter.shutdown()
        worker.join(5)
        assert not worker.is_alive(), "the export still waits after shutdown()"
        assert time.monotonic() - started < 5
        assert results == [SpanExportResult.FAILURE]
        assert exporter.own_failure is None
        assert len(server.posts) == 1
    finally:
        answer.set()
        worker.join(5)
