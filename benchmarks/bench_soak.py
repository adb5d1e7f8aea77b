"""Soak: the same FastAPI app, bare and with obskit, under gunicorn with uvicorn workers.

Run from the repository root::

    python benchmarks/bench_soak.py                 # 120 s of load per side (about 5 minutes)
    python benchmarks/bench_soak.py --seconds 30    # a shorter soak
    python benchmarks/bench_soak.py --obskit-env OBSKIT_GC_FREEZE=false   # obskit, no heap freeze
    python benchmarks/bench_soak.py --bare-env SOAK_GC_FREEZE=1   # gc.freeze() in bare workers
    python benchmarks/bench_soak.py --stack standard   # uvicorn[standard]: httptools, uvloop
    python benchmarks/bench_soak.py --rate 1500        # open loop: 1,500 req/s, Poisson arrivals

Both servers run the whole time (``gunicorn -w 2 -k uvicorn.workers.UvicornH11Worker``: h11 on
asyncio, as plain ``pip install uvicorn`` serves; ``--stack standard``: ``UvicornWorker`` on
uvicorn[standard]'s httptools and uvloop; the app of ``_soak_app.py``); a load generator
process (``_loadgen.py``: 8 keep-alive connections, closed loop unless ``--rate``) drives one
of them at a time, in alternating slices, so a burst of load from elsewhere on the machine falls
on both sides alike.
obskit exports every span over OTLP/HTTP to a healthy receiver process (``_receiver.py``).  Each
worker records its garbage collections through ``gc.callbacks`` (``_gcwatch.py``, installed by
``_soak_gunicorn.py``); only collections that start inside that server's load slices are
counted.  RSS of every worker is sampled each second.
See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _gcwatch  # noqa: E402
from _receiver import Receiver  # noqa: E402

# Goals from the runtime issue.
GOAL_P99_RATIO = 1.2  # obskit's p99 <= 1.2 x the bare app's
GOAL_THROUGHPUT_RATIO = 0.9  # obskit's throughput >= 0.9 x the bare app's
GOAL_LONG_PAUSE_MS = _gcwatch.LONG_PAUSE_MS  # no GC pause over 10 ms caused by obskit
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")
_PATH = "/items/42"
#: ``--stack``: the gunicorn worker class (``_soak_gunicorn.py`` reads ``SOAK_WORKER_CLASS``).
_WORKER_CLASSES = {
    "h11": "uvicorn.workers.UvicornH11Worker",  # h11 on asyncio: plain `pip install uvicorn`
    "standard": "uvicorn.workers.UvicornWorker",  # "auto": httptools on uvloop when installed
}
_STACK_NAMES = {"h11": "h11 on asyncio", "standard": "httptools on uvloop"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds used so far by ``pids`` (``/proc/<pid>/stat``; gone: 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _TICKS


def _rss_mb(pid: int) -> float | None:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return None


#: Where a load slice's CPU time is charged (``Server.cpu``).
_CPU_PARTS = ("server", "receiver", "loadgen")


@dataclass
class Server:
    """One gunicorn server (bare or obskit) and what was measured on it."""

    name: str
    env: dict[str, str]
    workers: int
    gc_dir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    probes: int = 0
    windows: list[tuple[float, float]] = field(default_factory=list)
    latency_file: Path | None = None
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    warmup_requests: int = 0
    rss: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    #: CPU seconds spent in this server's load slices: its processes (gunicorn master and
    #: workers), the span receiver, and the load generator.
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_CPU_PARTS, 0.0))
    #: Connections per worker in each slice (the load generator spreads them evenly).
    spreads: list[list[int]] = field(default_factory=list)

    def start(self, log: Path) -> None:
        self.port = _free_port()
        self.gc_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OBSKIT_"))}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update(self.env, SOAK_GC_DIR=str(self.gc_dir), SOAK_WORKERS=str(self.workers))
        argv = [
            sys.executable, "-m", "gunicorn", "-c", str(HERE / "_soak_gunicorn.py"),
            "--chdir", str(HERE), "-b", f"127.0.0.1:{self.port}", "_soak_app:app",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"), cwd=HERE
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until every worker is up and the route answers 200."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited with {self.proc.returncode}")
            if len(self.worker_pids()) == self.workers:
                try:
                    self.probes += 1
                    url = f"http://127.0.0.1:{self.port}{_PATH}"
                    with urllib.request.urlopen(url, timeout=5) as resp:
                        if resp.status == 200:
                            return
                except OSError:
                    pass
            time.sleep(0.5)
        raise RuntimeError(f"{self.name}: not ready after {timeout:.0f} s")

    def worker_pids(self) -> list[int]:
        return _children(self.proc.pid) if self.proc is not None else []

    def dump_gc(self, timeout: float = 30.0) -> None:
        """Ask every worker to write its GC records, and wait for the files."""
        (self.gc_dir / "dump").touch()
        deadline = time.monotonic() + timeout
        pids = self.worker_pids()
        while time.monotonic() < deadline:
            if all((self.gc_dir / f"gc-{pid}.json").exists() for pid in pids):
                time.sleep(0.2)  # let the last write finish
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: workers did not write their GC records")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def census(self) -> dict[str, int]:
        """Summed ``SOAK_GC_CENSUS`` counts of the workers (empty unless enabled)."""
        total: dict[str, int] = {}
        for path in self.gc_dir.glob("census-*.json"):
            for name, count in json.loads(path.read_text()):
                total[name] = total.get(name, 0) + count
        return dict(sorted(total.items(), key=lambda kv: -kv[1])[:25])

    def gc_records(self) -> dict[int, dict[str, Any]]:
        """Per worker pid, what its recorder wrote when asked: ``records`` (the collections)
        and ``frozen`` (objects in the permanent generation, ``gc.get_freeze_count()``)."""
        found = {}
        for path in sorted(self.gc_dir.glob("gc-*.json")):
            data = json.loads(path.read_text())
            found[int(data["pid"])] = data
        return found


def _drive(
    server: Server,
    seconds: float,
    connections: int,
    record: bool,
    receiver: int | None = None,
    rate: float = 0.0,
) -> None:
    """One slice of load on ``server`` from a load-generator process (``rate``: open loop at so
    many requests per second; 0: closed loop); with ``record``, the slice's CPU time is charged
    to the server (``receiver``: the span receiver's pid)."""
    assert server.latency_file is not None
    out = server.latency_file if record else server.latency_file.with_suffix(".warmup")
    own = [server.proc.pid, *server.worker_pids()] if server.proc is not None else []
    others = [receiver] if receiver is not None else []
    cpu_before = (_cpu_s(own), _cpu_s(others), _children_cpu_s())
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(HERE / "_loadgen.py"), "--port", str(server.port), "--path", _PATH,
         "--seconds", str(seconds), "--connections", str(connections), "--out", str(out),
         "--rate", str(rate),
         "--worker-pids", ",".join(map(str, server.worker_pids()))],
        capture_output=True, text=True, check=False, timeout=seconds + 60,
    )  # fmt: skip
    ended = time.monotonic()
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed on {server.name}:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    server.probes += result.get("primed", 0)
    server.spreads.append(result.get("per_worker", []))
    if record:
        cpu_after = (_cpu_s(own), _cpu_s(others), _children_cpu_s())
        for part, before, after in zip(_CPU_PARTS, cpu_before, cpu_after, strict=True):
            server.cpu[part] += after - before
        server.windows.append((started, ended))
        server.requests += result["requests"]
        server.errors += result["errors"]
        server.seconds += result["seconds"]
    else:
        server.warmup_requests += result["requests"]
        server.errors += result["errors"]


def _children_cpu_s() -> float:
    """CPU seconds of this process's ended children (the load generators)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Sample ``pid`` with py-spy (``pip install py-spy``) into a raw collapsed-stack file: only
    samples that hold the GIL (Python code running, not waiting on a socket or on the GIL)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    argv = [spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "250",
            "--format", "raw", "--nonblocking", "--gil", "-o", str(out)]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def profile_summary(raw: Path, top: int = 15) -> dict[str, list[tuple[str, float]]]:
    """Shares of samples: by the innermost frame ("self"), and by every frame on the stack
    ("inclusive", obskit / OpenTelemetry / prometheus-client frames only)."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            if any(k in frame for k in ("obskit", "opentelemetry", "prometheus_client")):
                inclusive[frame] = inclusive.get(frame, 0) + count

    def shares(counts: dict[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
        return [(frame, n / total) for frame, n in ranked] if total else []

    return {"self": shares(own), "inclusive": shares(inclusive), "samples": [("", total)]}


def _sample_rss(servers: list[Server], stop: threading.Event, every: float = 1.0) -> None:
    t0 = time.monotonic()
    while not stop.wait(every):
        now = time.monotonic() - t0
        for server in servers:
            for pid in server.worker_pids():
                rss = _rss_mb(pid)
                if rss is not None:
                    server.rss.setdefault(pid, []).append((now, rss))


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def _latency(server: Server) -> dict[str, float]:
    values = array("d")
    assert server.latency_file is not None
    with server.latency_file.open("rb") as fh:
        values.frombytes(fh.read())
    ordered = sorted(values)
    return {
        "p50_ms": _percentile(ordered, 0.50),
        "p90_ms": _percentile(ordered, 0.90),
        "p95_ms": _percentile(ordered, 0.95),
        "p99_ms": _percentile(ordered, 0.99),
        "p999_ms": _percentile(ordered, 0.999),
        "max_ms": ordered[-1] if ordered else float("nan"),
        "mean_ms": statistics.fmean(ordered) if ordered else float("nan"),
    }


def _rss_summary(server: Server) -> dict[str, Any]:
    per_worker = {}
    for pid, samples in server.rss.items():
        values = [mb for _, mb in samples]
        per_worker[pid] = {
            "first_mb": values[0],
            "last_mb": values[-1],
            "max_mb": max(values),
            "samples": len(values),
        }
    return per_worker


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start everything, drive the load, stop, collect the figures."""
    load_before = Path("/proc/loadavg").read_text().strip()
    with tempfile.TemporaryDirectory(prefix="obskit-soak-") as tmp_name, Receiver() as receiver:
        tmp = Path(tmp_name)
        obskit_env = {
            "SOAK_OBSKIT": "1",
            "OTEL_SERVICE_NAME": "soak",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OBSKIT_METRICS_PORT": "0",
            "OBSKIT_LOG_FORMAT": "json",
        }
        for item in args.obskit_env:
            key, _, value = item.partition("=")
            obskit_env[key] = value
        bare_env = {}
        for env in (obskit_env, bare_env):
            env["SOAK_WORKER_CLASS"] = _WORKER_CLASSES[args.stack]
        for item in args.bare_env:
            key, _, value = item.partition("=")
            bare_env[key] = value
        servers = [
            Server("bare", bare_env, args.workers, tmp / "gc-bare"),
            Server("obskit", obskit_env, args.workers, tmp / "gc-obskit"),
        ]
        for server in servers:
            server.latency_file = tmp / f"latency-{server.name}.bin"
            server.start(tmp / f"{server.name}.log")
        stop = threading.Event()
        try:
            for server in servers:
                server.wait_ready()
            print(f"servers up; load average {load_before}", file=sys.stderr, flush=True)
            for server in servers:
                _drive(server, args.warmup, args.connections, record=False, rate=args.rate)
            sampler = threading.Thread(target=_sample_rss, args=(servers, stop), daemon=True)
            sampler.start()
            slices = max(1, round(args.seconds / args.slice))
            spies: dict[str, subprocess.Popen[bytes]] = {}
            for i in range(slices):
                order = servers if i % 2 == 0 else servers[::-1]
                if args.py_spy and order[0].name not in spies:
                    # One worker of the server whose slice this starts with (slices 1 and 2).
                    seconds = min(args.py_spy, args.seconds / slices)
                    spies[order[0].name] = _py_spy(
                        order[0].worker_pids()[0], seconds, tmp / f"{order[0].name}.raw"
                    )
                for server in order:
                    _drive(
                        server, args.seconds / slices, args.connections, record=True,
                        receiver=receiver.proc.pid, rate=args.rate,
                    )  # fmt: skip
                print(f"slice {i + 1}/{slices} done", file=sys.stderr, flush=True)
            for server in servers:
                server.dump_gc()
            for spy in spies.values():
                spy.wait(60)
        finally:
            stop.set()
            for server in servers:
                server.stop()
        load_after = Path("/proc/loadavg").read_text().strip()
        time.sleep(0.5)
        received = receiver.stats()
        results: dict[str, Any] = {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "seconds_per_side": args.seconds,
            "slice_seconds": args.seconds / max(1, round(args.seconds / args.slice)),
            "connections": args.connections,
            "rate": args.rate,
            "workers": args.workers,
            "stack": args.stack,
            "loadavg_before": load_before,
            "loadavg_after": load_after,
            "obskit_env": args.obskit_env,
            "bare_env": args.bare_env,
            "receiver": received,
            "py_spy_seconds": min(
                args.py_spy, args.seconds / max(1, round(args.seconds / args.slice))
            ),
        }
        for server in servers:
            raw = tmp / f"{server.name}.raw"
            if args.py_spy and raw.exists():
                results.setdefault("profile", {})[server.name] = profile_summary(raw)
                if args.json:  # the raw stacks next to the JSON (flamegraph-ready)
                    shutil.copy(raw, args.json.with_suffix(f".{server.name}.raw"))
        for server in servers:
            gc_by_worker = {
                pid: _gcwatch.summarise(data["records"], server.windows)
                | {"frozen": data.get("frozen", 0)}
                for pid, data in server.gc_records().items()
            }
            results[server.name] = {
                "requests": server.requests,
                "errors": server.errors,
                "throughput_rps": server.requests / server.seconds if server.seconds else 0.0,
                "latency": _latency(server),
                "gc": gc_by_worker,
                "rss": _rss_summary(server),
                "sent_in_total": server.probes + server.warmup_requests + server.requests,
                "census": server.census(),
                "cpu_s": server.cpu,
                "connections_per_worker": server.spreads,
            }
        return results


def report(r: dict[str, Any]) -> str:
    """The printed table and goals."""
    lines = [
        "obskit soak — FastAPI under gunicorn "
        f"({r['workers']} uvicorn workers, {_STACK_NAMES[r.get('stack', 'h11')]}), "
        f"{r['connections']} keep-alive connections, "
        + (
            f"open loop at {r['rate']:.0f} req/s (Poisson arrivals), "
            if r.get("rate")
            else "closed loop, "
        )
        + f"{r['seconds_per_side']:.0f} s of load per side in alternating "
        f"{r['slice_seconds']:.0f} s slices",
        f"Python {r['python']}, {r['cpus']} CPUs; load average before: {r['loadavg_before']}; "
        f"after: {r['loadavg_after']}",
    ]
    if r["obskit_env"] or r["bare_env"]:
        lines.append(f"extra environment: obskit {r['obskit_env']}, bare {r['bare_env']}")
    lines += [
        "",
        f"{'':<8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
        f"  GC per worker (in its load slices): collections gen0/gen1/gen2, max pause, pauses"
        f" > 10 ms; RSS first→last (max) MB",
    ]
    for name in ("bare", "obskit"):
        s = r[name]
        lat = s["latency"]
        lines.append(
            f"{name:<8}{s['throughput_rps']:>9.0f}{lat['p50_ms']:>9.2f}{lat['p99_ms']:>9.2f}"
            f"{lat['max_ms']:>9.1f}{s['errors']:>8}"
        )
        for pid, g in sorted(s["gc"].items()):
            rss = s["rss"].get(pid) or s["rss"].get(str(pid)) or {}
            rss_text = (
                f"RSS {rss['first_mb']:.1f}→{rss['last_mb']:.1f} ({rss['max_mb']:.1f})"
                if rss
                else "RSS —"
            )
            gens = "/".join(str(n) for n in g["by_generation"])
            lines.append(
                f"{'':<8}  worker {pid}: {gens} collections, max {g['max_ms']:.1f} ms "
                f"(gen2 max {g['gen2_max_ms']:.1f} ms, {g['gen2_cpu_max_ms']:.1f} ms CPU, "
                f"over up to {g['gen2_examined_max']} objects), {g['over_10ms']} > 10 ms, "
                f"total {g['total_ms']:.0f} ms; "
                f"{g['frozen']} frozen; {rss_text}"
            )
            for p in g["long_pauses"]:
                lines.append(
                    f"{'':<12}pause gen{p['generation']}: {p['wall_ms']:.1f} ms wall, "
                    f"{p['cpu_ms']:.1f} ms CPU, {p['examined']} objects examined, "
                    f"{p['collected']} collected"
                )
    bare, ob = r["bare"], r["obskit"]
    received = r["receiver"]
    lines.append(
        f"\nspans received {received['spans']} (in {received['requests']} exports, "
        f"{received['errors']} bad) for {ob['sent_in_total']} requests sent to obskit"
    )
    quantiles = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms")
    if all(q in bare["latency"] for q in quantiles):
        ratios = " / ".join(
            f"{ob['latency'][q] / bare['latency'][q]:.2f}" if bare["latency"][q] else "-"
            for q in quantiles
        )
        lines.append(f"latency ÷ bare at p50 / p90 / p95 / p99 / p99.9: {ratios}")
    for name, side in (("bare", bare), ("obskit", ob)):
        spreads = {"/".join(map(str, s)) for s in side["connections_per_worker"] if s}
        lines.append(f"connections per worker, {name}: " + (", ".join(sorted(spreads)) or "-"))
    lines.append(
        "CPU per request (µs) in each side's load slices — server (gunicorn master + workers) "
        "/ span receiver / load generator = total"
    )
    for name, side in (("bare", bare), ("obskit", ob)):
        if side["requests"]:
            per = {k: v * 1e6 / side["requests"] for k, v in side["cpu_s"].items()}
            lines.append(
                f"  {name:<7}{per['server']:8.1f} /{per['receiver']:7.1f} /{per['loadgen']:7.1f}"
                f" = {sum(per.values()):6.1f}"
            )
    goals = []
    open_loop = bool(r.get("rate"))
    if open_loop:  # both sides serve the offered rate: their CPU per request is the cost
        lines.append(
            f"open loop: offered {r['rate']:.0f} req/s, served {bare['throughput_rps']:.0f} "
            f"(bare) / {ob['throughput_rps']:.0f} (obskit); throughput ÷ bare is the closed "
            "loop's figure (run without --rate)"
        )
    if bare["throughput_rps"] and not open_loop:
        ratio = ob["throughput_rps"] / bare["throughput_rps"]
        goals.append(("throughput ÷ bare", f"{ratio:.3f}", f"≥ {GOAL_THROUGHPUT_RATIO}",
                      ratio >= GOAL_THROUGHPUT_RATIO))  # fmt: skip
    if bare["latency"]["p99_ms"]:
        ratio = ob["latency"]["p99_ms"] / bare["latency"]["p99_ms"]
        goals.append(("p99 ÷ bare p99", f"{ratio:.3f}", f"≤ {GOAL_P99_RATIO}",
                      ratio <= GOAL_P99_RATIO))  # fmt: skip
    ob_long = sum(g["over_10ms"] for g in ob["gc"].values())
    bare_long = sum(g["over_10ms"] for g in bare["gc"].values())
    ob_long_cpu = sum(g["over_10ms_cpu"] for g in ob["gc"].values())
    bare_long_cpu = sum(g["over_10ms_cpu"] for g in bare["gc"].values())
    ob_gen2 = sum(g["by_generation"][2] for g in ob["gc"].values())
    bare_gen2 = sum(g["by_generation"][2] for g in bare["gc"].values())
    ob_max = max((g["max_ms"] for g in ob["gc"].values()), default=0.0)
    bare_max = max((g["max_ms"] for g in bare["gc"].values()), default=0.0)
    goals.append(
        ("GC pauses > 10 ms (obskit / bare)", f"{ob_long} / {bare_long} "
         f"(max {ob_max:.1f} / {bare_max:.1f} ms)", "0 caused by obskit", ob_long <= bare_long)
    )  # fmt: skip
    per_10k = {}
    for name, side in (("bare", bare), ("obskit", ob)):
        totals = [sum(g["by_generation"][i] for g in side["gc"].values()) for i in range(3)]
        per_10k[name] = "/".join(
            f"{n * 10_000 / side['requests']:.1f}" if side["requests"] else "-" for n in totals
        )
    lines.append(
        f"collections per 10,000 requests, gen0/gen1/gen2: obskit {per_10k['obskit']}, "
        f"bare {per_10k['bare']}"
    )
    lines.append(
        f"full (gen-2) collections, all workers: obskit {ob_gen2}, bare {bare_gen2}; pauses over "
        f"{GOAL_LONG_PAUSE_MS:.0f} ms that also used over {GOAL_LONG_PAUSE_MS:.0f} ms of CPU "
        f"(the rest waited for a core): obskit {ob_long_cpu}, bare {bare_long_cpu}"
    )
    goals.append(
        ("every span exported", f"{received['spans']} / {ob['sent_in_total']}", "equal",
         received["spans"] == ob["sent_in_total"])
    )  # fmt: skip
    for name in ("bare", "obskit"):
        if r[name].get("census"):
            lines.append(
                f"\n{name}: objects in generations 0-1 at the start of gen-1/2 collections"
            )
            lines.append("  " + ", ".join(f"{k} {v}" for k, v in r[name]["census"].items()))
    for name, profile in r.get("profile", {}).items():
        samples = profile["samples"][0][1]
        lines.append(
            f"\npy-spy --gil, one {name} worker for {r['py_spy_seconds']:.0f} s of its load: "
            f"{samples} samples holding the GIL; innermost frames"
        )
        lines += [f"  {share:6.1%}  {frame}" for frame, share in profile["self"]]
        if profile["inclusive"]:
            lines.append("  obskit / OpenTelemetry / prometheus-client frames, inclusive")
            lines += [f"  {share:6.1%}  {frame}" for frame, share in profile["inclusive"]]
    lines += ["", f"{'goal (issue #10)':<36}{'measured':<36}{'target':<20}verdict"]
    for what, measured, target, ok in goals:
        lines.append(f"{what:<36}{measured:<36}{target:<20}{'met' if ok else 'NOT met'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="load per side (120)")
    parser.add_argument("--slice", type=float, default=10.0, help="length of one slice (10)")
    parser.add_argument("--warmup", type=float, default=5.0, help="unrecorded load per side (5)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--rate", type=float, default=0.0, metavar="REQ_PER_S",
        help="open loop: requests due at Poisson times, REQ_PER_S in all, on both servers "
        "(0, the default: closed loop, each connection as fast as the server answers)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--stack", choices=sorted(_WORKER_CLASSES), default="h11",
        help="the uvicorn workers' HTTP parser and loop: h11 on asyncio (plain uvicorn, the "
        "default) or standard (httptools on uvloop, uvicorn[standard])",
    )  # fmt: skip
    parser.add_argument(
        "--obskit-env", action="append", default=[], metavar="KEY=VALUE",
        help="extra environment for the obskit server (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--bare-env", action="append", default=[], metavar="KEY=VALUE",
        help="extra environment for the bare server (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--py-spy", type=float, default=0.0, metavar="SECONDS",
        help="sample one worker of each server with py-spy --gil for SECONDS of its first slice "
        "(pip install py-spy)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write raw results here")
    args = parser.parse_args(argv)
    results = run(args)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
