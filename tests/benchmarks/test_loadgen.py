"""The soak benchmark's load generator (``benchmarks/_loadgen.py``) in open-loop mode, against
a real asyncio server on 127.0.0.1: it keeps its rate and times a request from when it was due."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import _loadgen


class _StallingServer(asyncio.Protocol):
    """A tiny HTTP/1.1 server for the load generator: answers each request at once, except
    that no answer goes out before ``hold_until`` (a stall, ``loop.time()`` seconds)."""

    hold_until = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(data.count(b"\r\n\r\n")):
            delay = max(0.0, type(self).hold_until - loop.time())
            loop.call_later(
                delay, self.transport.write, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            )


def _open_loop(rate: float, seconds: float, stall: tuple[float, float] | None) -> list[float]:
    """Latencies (ms) of ``_loadgen.run`` at ``rate`` req/s against a :class:`_StallingServer`
    that holds every answer from ``stall[0]`` to ``stall[1]`` seconds into the run."""

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_StallingServer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        if stall is not None:
            start = loop.time()
            loop.call_later(stall[0], setattr, _StallingServer, "hold_until", start + stall[1])
        try:
            latencies, errors, _ = await _loadgen.run(
                "127.0.0.1", port, "/", seconds, 4, None, rate
            )
        finally:
            server.close()
            _StallingServer.hold_until = 0.0
        assert errors == 0
        return list(latencies)

    return asyncio.run(main())


def test_open_loop_load_keeps_its_rate_and_times_requests_from_when_they_were_due() -> None:
    """``_loadgen.py --rate``: about rate x seconds requests are sent however fast the
    server answers (a closed loop would send thousands), and when the server stalls, every
    request that fell due during the stall is timed from its due time — not only the one per
    connection that was in flight (coordinated omission would hide the rest)."""
    quick = _open_loop(400, 1.0, None)
    assert 280 <= len(quick) <= 520, len(quick)  # Poisson: 400 ± 6 standard deviations
    assert sorted(quick)[len(quick) // 2] < 20, sorted(quick)[len(quick) // 2]
    stalled = _open_loop(400, 1.0, (0.3, 0.6))
    assert 280 <= len(stalled) <= 520, len(stalled)
    slow = [ms for ms in stalled if ms > 50]
    # About 0.25 s x 400 req/s = 100 requests fell due more than 50 ms before the stall ended;
    # only the 4 in flight when it began would be counted slow if timed from their writes.
    assert len(slow) >= 40, (len(slow), sorted(stalled)[-10:])
    assert max(stalled) >= 250, max(stalled)  # the first one caught waited the whole stall
