"""The runtime benchmark still runs against the current runtime (a quick, one-variant run)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_quick_run_of_obskit_and_its_bare_twin(tmp_path: Path) -> None:
    """``bench_runtime.py --quick --only`` runs obskit (sampled, Starlette, 1 route) and the bare
    app in their own processes, checks that obskit counted exactly the timed requests, and
    prints the table with the goal lines."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_runtime.py"),
            "--quick",
            "--only",
            "^obskit-starlette-1$",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert set(results) == {"bare-starlette-1", "obskit-starlette-1"}
    obskit = results["obskit-starlette-1"]
    assert "requests counted" in obskit["check"]
    assert obskit["overhead"]["median_us"] > 0
    assert "obskit overhead ÷ trio overhead" not in proc.stdout  # the trio was not run
    assert "obskit, sampled" in proc.stdout


def test_soak_benchmark_short_run_reports_gc_per_worker_and_the_goals(tmp_path: Path) -> None:
    """A 4-second ``bench_soak.py`` (gunicorn, 2 uvicorn workers per side, a real receiver):
    every request answered, one span received per request sent to obskit, GC records of both
    workers of each side with their frozen objects (obskit's start-up heap frozen, the bare
    app's not), connections spread evenly, CPU per request measured, and the printed report has
    the per-worker GC lines, the tail ratios and the three goal verdicts."""
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_soak.py"), "--seconds", "4",
         "--slice", "2", "--warmup", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    for side in ("bare", "obskit"):
        assert results[side]["requests"] > 0
        assert results[side]["errors"] == 0
        assert len(results[side]["gc"]) == 2, results[side]["gc"]
    assert results["receiver"]["spans"] == results["obskit"]["sent_in_total"]
    assert all(g["frozen"] > 20_000 for g in results["obskit"]["gc"].values())
    assert all(g["frozen"] == 0 for g in results["bare"]["gc"].values())
    for line in ("throughput ÷ bare", "p99 ÷ bare p99", "GC pauses > 10 ms", "full (gen-2)"):
        assert line in proc.stdout, proc.stdout
    assert proc.stdout.count("collections, max") == 4  # one line per worker
    # The 8 connections were spread 4/4 over the two workers in every slice (warm-up included),
    # and each side's CPU per request was measured in its own processes.
    for side in ("bare", "obskit"):
        spreads = results[side]["connections_per_worker"]
        assert len(spreads) == 3, spreads  # one warm-up slice, two timed
        assert all(spread == [4, 4] for spread in spreads), spreads
        assert results[side]["cpu_s"]["server"] > 0
        assert results[side]["cpu_s"]["loadgen"] > 0
    assert results["obskit"]["cpu_s"]["receiver"] > 0  # the spans' decoding
    assert "h11 on asyncio" in proc.stdout
    assert "latency ÷ bare at p50 / p90 / p95 / p99 / p99.9" in proc.stdout


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
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import _loadgen
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))

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
