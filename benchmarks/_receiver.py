"""A healthy OTLP/HTTP trace receiver, run as its own process on 127.0.0.1 by the benchmarks.

``POST /v1/traces`` (protobuf, plain or gzip) is decoded and its spans counted, then answered
``200`` with an empty ``ExportTraceServiceResponse`` — what a collector does, minus the storage.
``GET /stats`` answers ``{"requests": N, "spans": N, "errors": N}``.  The same decoding as the
test suite's receiver (``tests/support/_otlp.py``) but nothing kept in memory, so a long soak
does not grow it.

Run: ``python benchmarks/_receiver.py``; it prints its port on the first line of stdout.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_lock = threading.Lock()
_stats = {"requests": 0, "spans": 0, "errors": 0}
_OK = ExportTraceServiceResponse().SerializeToString()


def count_spans(body: bytes) -> int:
    """Spans in one ``ExportTraceServiceRequest`` body."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the exporters' sessions expect

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/v1/traces":
            self._reply(404, b"", "text/plain")
            return
        try:
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            spans = count_spans(body)
        except Exception:  # a malformed export is counted, never crashes the receiver
            with _lock:
                _stats["errors"] += 1
            self._reply(400, b"bad request", "text/plain")
            return
        with _lock:
            _stats["requests"] += 1
            _stats["spans"] += spans
        self._reply(200, _OK, "application/x-protobuf")

    def do_GET(self) -> None:
        with _lock:
            body = json.dumps(_stats).encode()
        self._reply(200, body, "application/json")

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """No per-request line."""


def _exit_with_parent() -> None:
    """Exit when stdin (a pipe from the process that started us) closes: no orphan receiver
    when a benchmark is interrupted."""
    sys.stdin.read()
    os._exit(0)


def main() -> None:
    """Serve until killed or until stdin closes; the port is printed first."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.2)


# -- client side, for the benchmark drivers ----------------------------------------------------
class Receiver:
    """Start the receiver process; ``endpoint`` for ``OTEL_EXPORTER_OTLP_ENDPOINT``."""

    def __init__(self) -> None:
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, int]:
        """The receiver's counts so far."""
        import urllib.request

        with urllib.request.urlopen(f"{self.endpoint}/stats", timeout=10) as resp:  # noqa: S310
            data: dict[str, int] = json.loads(resp.read())
        return data

    def stop(self) -> None:
        """Terminate the process."""
        self.proc.terminate()
        self.proc.wait(10)

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    main()
