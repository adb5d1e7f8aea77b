"""A closed-loop HTTP/1.1 load generator: N keep-alive connections, one request in flight each.

Run as its own process by ``bench_soak.py``::

    python benchmarks/_loadgen.py --port 8000 --seconds 10 --connections 8 --out lat.bin

Every response must be ``200`` with its ``Content-Length`` body; each request's latency (write of
the request to the last byte of the response, ms) is appended to ``--out`` as raw doubles
(``array("d")``), and a JSON line ``{"requests", "errors", "seconds"}`` is printed.  An asyncio
``Protocol`` per connection (no stream objects, no per-request parsing beyond the status line
and ``Content-Length``) keeps the generator's own cost small next to the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from array import array
from time import perf_counter, perf_counter_ns


class _Connection(asyncio.Protocol):
    def __init__(self, request: bytes, latencies: array[float], stop_at: float) -> None:
        self.request = request
        self.latencies = latencies
        self.stop_at = stop_at
        self.buffer = b""
        self.sent = 0
        self.errors = 0
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        if perf_counter() >= self.stop_at:
            self.transport.close()
            return
        self.sent = perf_counter_ns()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].lower()
        at = head.find(b"content-length:")
        eol = head.find(b"\r\n", at)
        length = int(head[at + 15 : eol if eol > 0 else len(head)])
        if len(self.buffer) < end + 4 + length:
            return
        if not head.startswith(b"http/1.1 200"):
            self.errors += 1
        self.buffer = self.buffer[end + 4 + length :]
        self.latencies.append((perf_counter_ns() - self.sent) / 1e6)
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.errors += 1
        if not self.done.done():
            self.done.set_result(None)


async def run(
    host: str, port: int, path: str, seconds: float, connections: int
) -> tuple[array[float], int]:
    """Drive ``connections`` keep-alive connections for ``seconds``; latencies and errors."""
    loop = asyncio.get_running_loop()
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: soak/1.0\r\n\r\n".encode()
    latencies: array[float] = array("d")
    stop_at = perf_counter() + seconds
    conns = []
    for _ in range(connections):
        _, proto = await loop.create_connection(
            lambda: _Connection(request, latencies, stop_at), host, port
        )
        conns.append(proto)
    await asyncio.gather(*(c.done for c in conns))
    return latencies, sum(c.errors for c in conns)


def main() -> None:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/items/42")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    started = perf_counter()
    latencies, errors = asyncio.run(
        run(args.host, args.port, args.path, args.seconds, args.connections)
    )
    elapsed = perf_counter() - started
    with open(args.out, "ab") as fh:
        latencies.tofile(fh)
    print(json.dumps({"requests": len(latencies), "errors": errors, "seconds": elapsed}))


if __name__ == "__main__":
    main()
