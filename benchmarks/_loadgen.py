"""An HTTP/1.1 load generator: N keep-alive connections, one request in flight each.

Run as its own process by ``bench_soak.py``::

    python benchmarks/_loadgen.py --port 8000 --seconds 10 --connections 8 --out lat.bin
    python benchmarks/_loadgen.py --port 8000 --seconds 10 --rate 3000 --out lat.bin

Closed loop by default: each connection sends its next request as soon as the previous response
is in, so the server is driven as fast as it can go.  With ``--rate R`` the load is open loop:
requests are due at random (Poisson) times, R per second over all connections, whatever the
server does.  A request whose due time passed while its connection still waited for the previous
response is sent at once and timed *from its due time* (the wait is latency the user would have
seen: no coordinated omission); one sent on time is timed from its write, so the generator's own
timer lateness is never charged to the server.

Every response must be ``200`` with its ``Content-Length`` body; each request's latency (write of
the request to the last byte of the response, ms) is appended to ``--out`` as raw doubles
(``array("d")``), and a JSON line ``{"requests", "errors", "seconds"}`` is printed.  An asyncio
``Protocol`` per connection (no stream objects, no per-request parsing beyond the status line
and ``Content-Length``) keeps the generator's own cost small next to the server's.

With ``--worker-pids`` (the server's worker processes, on this machine), the connections are
spread evenly over the workers before the timed load starts: which worker accepts a new
connection is up to the kernel (with 2 workers and 8 connections, the bare app's throughput
ranged 4,990-5,985 req/s across runs before; 6,748-7,586 with the connections spread 4/4 the same
day).  Each connection serves one untimed request (so it has been accepted),
its owner is found in ``/proc`` (the worker holding the server side of that TCP connection), and
a connection to an over-full worker is closed and made again.  The JSON line then also holds
``per_worker`` (connections per worker), ``reconnects`` and ``primed`` (the untimed requests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
from array import array
from time import perf_counter


class _Connection(asyncio.Protocol):
    def __init__(
        self,
        request: bytes,
        latencies: array[float],
        stop_at: float,
        rate: float | None = None,
        seed: int = 0,
    ) -> None:
        self.request = request
        self.latencies = latencies
        self.stop_at = stop_at
        #: Open loop: this connection's mean requests per second (None: closed loop).
        self.rate = rate
        self._random = random.Random(seed)
        #: Open loop: when the next request is due (``perf_counter`` seconds).
        self.due = 0.0
        self.buffer = b""
        self.sent = 0.0
        self.errors = 0
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.rate is not None:
            self.due = perf_counter() + self._random.expovariate(self.rate)
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        now = perf_counter()
        if max(now, self.due) >= self.stop_at:
            self.transport.close()
            return
        if self.rate is None:
            self._write(now)
        elif now < self.due:  # on time: wait for the due time, then time from the write
            self.loop.call_later(self.due - now, lambda: self._write(perf_counter()))
        else:  # late because the previous response was: timed from when it was due
            self._write(self.due)

    def _write(self, started: float) -> None:
        """Send the next request, timed from ``started``; open loop: the one after it falls due."""
        assert self.transport is not None
        self.sent = started
        if self.rate is not None:
            self.due += self._random.expovariate(self.rate)
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
        self.latencies.append((perf_counter() - self.sent) * 1e3)
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.errors += 1
        if not self.done.done():
            self.done.set_result(None)


def _one_request(sock: socket.socket, request: bytes) -> None:
    """Send ``request`` and read its whole response on a blocking socket."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or b"\r\n\r\n"
    head, _, body = data.partition(b"\r\n\r\n")
    at = head.lower().find(b"content-length:")
    length = int(head[at + 15 :].split(b"\r\n")[0]) if at >= 0 else 0
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk


def _owner(sock: socket.socket, pids: list[int]) -> int | None:
    """The pid among ``pids`` that holds the server side of ``sock``'s TCP connection."""
    client_port = sock.getsockname()[1]
    server_port = sock.getpeername()[1]
    inode = None
    with open("/proc/net/tcp") as fh:
        for line in fh:
            fields = line.split()
            if (
                len(fields) > 9
                and fields[1].endswith(f":{server_port:04X}")
                and fields[2].endswith(f":{client_port:04X}")
            ):
                inode = fields[9]
                break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


def balanced_sockets(
    host: str, port: int, request: bytes, connections: int, pids: list[int], attempts: int = 200
) -> tuple[list[socket.socket], dict[int, int], int]:
    """``connections`` accepted sockets spread evenly over the workers ``pids`` (as evenly as
    ``attempts`` new connections allow); also the count per worker and the reconnects made."""
    fair = -(-connections // len(pids))  # at most this many per worker
    held: dict[int, list[socket.socket]] = {pid: [] for pid in pids}
    reconnects = 0
    while sum(map(len, held.values())) < connections:
        sock = socket.create_connection((host, port))
        _one_request(sock, request)
        owner = _owner(sock, pids)
        if owner is not None and (len(held[owner]) < fair or reconnects >= attempts):
            held[owner].append(sock)
            continue
        if owner is None and reconnects >= attempts:
            held.setdefault(-1, []).append(sock)
            continue
        sock.close()
        reconnects += 1
    ready = [sock for socks in held.values() for sock in socks]
    return ready, {pid: len(socks) for pid, socks in held.items()}, reconnects


async def run(
    host: str,
    port: int,
    path: str,
    seconds: float,
    connections: int,
    pids: list[int] | None = None,
    rate: float | None = None,
) -> tuple[array[float], int, dict[str, object]]:
    """Drive ``connections`` keep-alive connections for ``seconds`` (closed loop, or open loop at
    ``rate`` requests per second in all); latencies, errors and (with ``pids``) how the
    connections were spread over the workers."""
    loop = asyncio.get_running_loop()
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: soak/1.0\r\n\r\n".encode()
    latencies: array[float] = array("d")
    spread: dict[str, object] = {}
    socks: list[socket.socket | None] = [None] * connections
    if pids:
        ready, per_worker, reconnects = balanced_sockets(host, port, request, connections, pids)
        socks = list(ready)
        spread = {
            "per_worker": sorted(per_worker.values()),
            "reconnects": reconnects,
            "primed": connections + reconnects,  # untimed requests, one per connection made
        }
    started = perf_counter()
    stop_at = started + seconds
    conns = []
    each = rate / connections if rate else None
    for i, sock in enumerate(socks):

        def factory(seed: int = i) -> _Connection:
            return _Connection(request, latencies, stop_at, each, seed)

        if sock is None:
            _, proto = await loop.create_connection(factory, host, port)
        else:
            _, proto = await loop.create_connection(factory, sock=sock)
        conns.append(proto)
    await asyncio.gather(*(c.done for c in conns))
    spread["seconds"] = perf_counter() - started
    return latencies, sum(c.errors for c in conns), spread


def main() -> None:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/items/42")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="open loop: requests per second in all (0: closed)"
    )
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--worker-pids", default="", help="comma-separated server worker pids: spread evenly"
    )
    args = parser.parse_args()
    pids = [int(p) for p in args.worker_pids.split(",") if p]
    latencies, errors, spread = asyncio.run(
        run(
            args.host, args.port, args.path, args.seconds, args.connections, pids, args.rate or None
        )
    )
    with open(args.out, "ab") as fh:
        latencies.tofile(fh)
    print(json.dumps({"requests": len(latencies), "errors": errors, **spread}))


if __name__ == "__main__":
    main()
