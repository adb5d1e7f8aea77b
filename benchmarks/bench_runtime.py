"""Per-request overhead of obskit against the instrumentation users wire by hand today.

Run from the repository root::

    python benchmarks/bench_runtime.py            # full run (a few minutes on 2 cores)
    python benchmarks/bench_runtime.py --quick    # a short run (under a minute)
    python benchmarks/bench_runtime.py --clock cpu --only 'export|instrumentator-fastapi'

Every variant runs in its own interpreter (tracer providers, structlog configuration, Prometheus
registries and obskit's framework patches are process-global).  Within it, the ASGI app is called
in-process with a prepared scope (no server, no sockets); see ``benchmarks/README.md``.  The
"real export" variants export every span over OTLP/HTTP to a receiver process (``_receiver.py``)
and end each timed batch with a flush, so the export is charged to the stack that causes it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# Goals from the runtime issue.
GOAL_RATIO = 0.15  # obskit overhead <= 0.15 x the hand-wired trio's overhead
GOAL_UNSAMPLED_US = 15.0
GOAL_STRUCTLOG_US = 8.0
GOAL_STDLIB_US = 12.0
#: "The same overhead with 200 routes as with 1": within 5 µs or 15 %, whichever is larger.
ROUTES_TOLERANCE_US = 5.0
ROUTES_TOLERANCE_SHARE = 0.15


@dataclass(frozen=True)
class Variant:
    """One measured configuration, run in its own process."""

    name: str
    label: str
    kind: str  # "asgi" or "log"
    builder: str = ""
    framework: str = ""
    routes: int = 1
    env: dict[str, str] = field(default_factory=dict)

    @property
    def baseline(self) -> str:
        """The bare variant this one's overhead is measured against."""
        return f"bare-{self.framework}-{self.routes}"


_OBSKIT_ENV = {
    "OBSKIT_METRICS_PORT": "0",
    "OBSKIT_LOG_FORMAT": "json",
    "OTEL_SERVICE_NAME": "bench",
}
_UNSAMPLED = {**_OBSKIT_ENV, "OTEL_TRACES_SAMPLER": "always_off"}
#: Goals of the real-export rows (issue #10), as ratios measured in one run.
GOAL_EXPORT_TRIO_RATIO = 0.15  # obskit (real export) <= 0.15 x the trio (real export)
GOAL_EXPORT_PFI_RATIO = 1.0  # obskit (real export) <= prometheus-fastapi-instrumentator's
GOAL_UNSAMPLED_BARE_RATIO = 1.0  # obskit, not sampled: overhead <= the bare app's own time

_LABELS = {
    "bare": "bare app",
    "otel-asgi": "OTel ASGI middleware",
    "prometheus-fastapi-instrumentator": "prometheus-fastapi-instrumentator",
    "trio": "hand-wired trio (OTel + PFI + structlog)",
    "obskit": "obskit, sampled",
    "obskit-unsampled": "obskit, not sampled",
    "trio-export": "hand-wired trio, real OTLP export",
    "obskit-export": "obskit, sampled, real OTLP export",
    "obskit-unsampled-export": "obskit, not sampled, real OTLP export",
}


def _asgi(builder: str, framework: str, routes: int) -> Variant:
    env = {}
    key = builder
    if builder in ("obskit", "obskit-export"):
        env = _OBSKIT_ENV
    elif builder == "obskit-unsampled":
        env, builder = _UNSAMPLED, "obskit"
    elif builder == "obskit-unsampled-export":
        env, builder = _UNSAMPLED, "obskit-export"
    return Variant(
        name=f"{key}-{framework}-{routes}",
        label=_LABELS[key],
        kind="asgi",
        builder=builder,
        framework=framework,
        routes=routes,
        env=env,
    )


def _log(name: str, label: str, env: dict[str, str] | None = None) -> Variant:
    return Variant(name=name, label=label, kind="log", env=env or {})


def variants() -> list[Variant]:
    """Every configuration, in the order of the report."""
    found = []
    for routes in (1, 200):
        for builder in (
            "bare",
            "otel-asgi",
            "prometheus-fastapi-instrumentator",
            "trio",
            "obskit",
            "obskit-unsampled",
        ):
            found.append(_asgi(builder, "starlette", routes))
    for builder in ("bare", "prometheus-fastapi-instrumentator", "trio", "obskit"):
        found.append(_asgi(builder, "fastapi", 1))
    # What users run: spans exported over OTLP/HTTP to a receiver process, every timed batch
    # ending in a flush (see README.md, "Real export").
    for builder in ("trio-export", "obskit-export", "obskit-unsampled-export"):
        found.append(_asgi(builder, "fastapi", 1))
    found += [
        Variant(
            "log-obskit-structlog", "obskit: structlog line (in a span)", "log", env=_OBSKIT_ENV
        ),
        Variant(
            "log-obskit-stdlib", "obskit: stdlib logging line (in a span)", "log", env=_OBSKIT_ENV
        ),
        Variant("log-plain-structlog", "reference: structlog JSON, no obskit", "log"),
        Variant("log-plain-stdlib", "reference: stdlib text handler, no obskit", "log"),
    ]
    return found


# ---------------------------------------------------------------------------------------------
# Child process: build one variant, time it, check the instrumentation really ran.
# ---------------------------------------------------------------------------------------------
def _metrics_text_obskit() -> str:
    import obskit
    from _timing import call_asgi, request_scope

    scope = request_scope("/metrics")
    _, body = call_asgi(obskit.metrics_app(), scope)
    return body.decode()


def _received_spans() -> int:
    """Spans the receiver process (real-export variants) has counted so far."""
    import urllib.request

    url = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] + "/stats"
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310
        spans: int = json.loads(resp.read())["spans"]
    return spans


def _check_asgi(variant: Variant, calls: int, received_before: int) -> str:
    """Evidence that the instrumentation recorded exactly the ``calls`` requests made to the
    instrumented app, and none of its bare twin's (raises otherwise)."""
    import _apps

    notes = []
    builder = variant.builder.removesuffix("-export")
    if variant.builder.endswith("-export"):
        _apps.flush_spans()
        sampled = variant.env.get("OTEL_TRACES_SAMPLER") != "always_off"
        received = _received_spans() - received_before
        # OTel's ASGI middleware records a server span and two "http send" spans per request.
        per_request = 3 if builder == "trio" else 1
        if received != (calls * per_request if sampled else 0):
            raise RuntimeError(
                f"{variant.name}: the receiver got {received} spans for {calls} requests"
            )
        notes.append(f"{received} spans received over OTLP/HTTP")
    elif builder in ("otel-asgi", "trio", "obskit"):
        from opentelemetry import trace

        provider: Any = trace.get_tracer_provider()
        if hasattr(provider, "force_flush"):
            provider.force_flush()
        sampled = variant.env.get("OTEL_TRACES_SAMPLER") != "always_off"
        exported = _apps.CountingExporter.exported
        if sampled and exported == 0:
            raise RuntimeError(f"{variant.name}: no span was exported")
        if not sampled and exported:
            raise RuntimeError(f"{variant.name}: {exported} spans exported while not sampled")
        notes.append(f"{exported} spans exported")
    if builder in ("prometheus-fastapi-instrumentator", "trio"):
        from prometheus_client import REGISTRY

        count = REGISTRY.get_sample_value(
            "http_requests_total",
            {"handler": _apps.ROUTE_TEMPLATE, "method": "GET", "status": "2xx"},
        )
        if count != calls:
            raise RuntimeError(f"{variant.name}: instrumentator counted {count}, not {calls}")
        notes.append(f"{int(count)} requests counted")
    if builder == "obskit":
        from obskit import conventions

        text = _metrics_text_obskit()
        pattern = (
            re.escape(conventions.HTTP_DURATION_COUNT)
            + r"\{[^}]*"
            + re.escape(f'{conventions.LABEL_ROUTE}="{_apps.ROUTE_TEMPLATE}"')
            + r"[^}]*\} ([0-9.e+]+)"
        )
        match = re.search(pattern, text)
        if not match or float(match.group(1)) != calls:
            found = match.group(1) if match else "nothing"
            raise RuntimeError(f"{variant.name}: obskit's histogram counted {found}, not {calls}")
        notes.append(f"{int(float(match.group(1)))} requests counted")
    return ", ".join(notes)


def _log_call(variant: Variant) -> Any:
    import logging

    if variant.name.startswith("log-obskit"):
        import _apps

        _apps.stub_otlp_export()
        from opentelemetry import trace

        import obskit

        obskit.init("bench")
        # A log line in a request: inside an active (sampled) span, so ids are added.
        span = trace.get_tracer("bench").start_span("request")
        trace.use_span(span, end_on_exit=False).__enter__()
        if variant.name.endswith("structlog"):
            log = obskit.get_logger("bench")
            return lambda i: log.info("order placed", order_id=i, amount=12.5)
        std = logging.getLogger("bench")
        return lambda i: std.info("order %s placed", i, extra={"amount": 12.5})
    if variant.name == "log-plain-structlog":
        import structlog

        import _apps

        _apps.configure_structlog_json()
        slog = structlog.get_logger("bench")
        return lambda i: slog.info("order placed", order_id=i, amount=12.5)
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    std = logging.getLogger("bench")
    return lambda i: std.info("order %s placed", i)


def run_child(name: str, quick: bool, out: Path) -> None:
    """Build, time and check one variant; write the result as JSON to ``out``."""
    import _apps
    import _timing

    variant = {v.name: v for v in variants()}[name]
    plan = _timing.QUICK if quick else _timing.FULL
    result: dict[str, Any] = {}
    if variant.kind == "asgi" and variant.builder == "bare":
        app = _apps.bare(variant.framework, variant.routes)
        result["timing"] = _timing.time_asgi(app, plan).as_dict()
        result["check"] = ""
    elif variant.kind == "asgi":
        # The bare twin is built and called first, before any instrumentation is installed
        # (obskit patches the framework classes, but a stack already built stays bare).
        bare = _apps.bare(variant.framework, variant.routes)
        _timing.call_asgi(bare, _timing.request_scope())
        export = variant.builder.endswith("-export")
        received_before = _received_spans() if export else 0
        app = _apps.BUILDERS[variant.builder](variant.framework, variant.routes)
        flush = _apps.flush_spans if export else None
        bare_timing, timing, overhead = _timing.time_asgi_pair(bare, app, plan, flush)
        result["timing"] = timing.as_dict()
        result["bare_timing"] = bare_timing.as_dict()
        result["overhead"] = overhead.as_dict()
        # Every call of the instrumented app: the status check, the warm-up and the batches.
        calls = 1 + plan.warmup + timing.calls
        result["check"] = _check_asgi(variant, calls, received_before)
    else:
        result["timing"] = _timing.time_calls(_log_call(variant), plan).as_dict()
        result["check"] = ""
    out.write_text(json.dumps(result))


# ---------------------------------------------------------------------------------------------
# Driver: run every variant in a fresh interpreter, then print the table and the goals.
# ---------------------------------------------------------------------------------------------
def _child_env(variant: Variant) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OBSKIT_"))}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(variant.env)
    return env


def run_variant(
    variant: Variant, quick: bool, endpoint: str | None = None, clock: str = "wall"
) -> dict[str, Any]:
    """Run one variant in a subprocess whose stdout (log lines) goes to /dev/null; a real-export
    variant exports to the receiver at ``endpoint``."""
    env = _child_env(variant) | {"BENCH_CLOCK": clock}
    if variant.builder.endswith("-export"):
        assert endpoint is not None
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    with tempfile.TemporaryDirectory(prefix="obskit-bench-") as tmp:
        out = Path(tmp) / "result.json"
        argv = [sys.executable, str(Path(__file__).resolve()), "--child", variant.name]
        argv += ["--out", str(out)] + (["--quick"] if quick else [])
        proc = subprocess.run(
            argv,
            env=env | {"TMPDIR": tmp},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=180,
            check=False,
        )
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"variant {variant.name} failed:\n{proc.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def _fmt_us(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def report(
    results: dict[str, dict[str, Any]],
    quick: bool,
    elapsed: float,
    load: tuple[str, str] = ("?", "?"),
    clock: str = "wall",
) -> str:
    """The table of figures and the goals, as printed."""
    med = {name: r["timing"]["median_us"] for name, r in results.items()}
    lines = [
        "obskit runtime benchmark — in-process ASGI calls, median µs per request over batch means",
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{'quick' if quick else 'full'} run, {elapsed:.0f} s; "
        f"load average before: {load[0]}; after: {load[1]}; "
        f"{'CPU time of the process (all threads)' if clock == 'cpu' else 'wall-clock time'}",
        "overhead = median of (variant batch - bare batch), the bare twin timed in alternating "
        "batches in the same process; mean = their mean (charges rare slow batches in full)",
        "",
        f"{'variant':<44}{'framework':>10}{'routes':>7}{'µs/req':>9}{'overhead':>10}"
        f"{'(p25-p75)':>15}{'mean':>8}  check",
    ]

    def overhead(name: str) -> float | None:
        """Median of the paired differences with the bare twin run in the same process."""
        if name not in results or "overhead" not in results[name]:
            return None
        value: float = results[name]["overhead"]["median_us"]
        return value

    def mean_overhead(name: str) -> float | None:
        """Mean of the paired differences: export bursts and GC pauses counted in full."""
        if name not in results or "mean_us" not in results[name].get("overhead", {}):
            return None
        value: float = results[name]["overhead"]["mean_us"]
        return value

    def spread(name: str) -> str:
        """Quartiles of the overhead samples (of the timing itself for a bare app)."""
        r = results[name].get("overhead", results[name]["timing"])
        return f"{r['p25_us']:>7.1f}-{r['p75_us']:<7.1f}"

    section = None
    for v in variants():
        if v.name not in results:
            continue
        timing = results[v.name]["timing"]
        if v.kind == "asgi":
            heading = f"{v.framework}, {v.routes} route{'s' if v.routes > 1 else ''}"
            if v.builder.endswith("-export"):
                heading += ": spans exported over OTLP/HTTP to a receiver process, every batch "
                heading += "ending in a flush"
            if heading != section:
                lines.append(f"-- {heading}")
                section = heading
            lines.append(
                f"{v.label:<44}{v.framework:>10}{v.routes:>7}{timing['median_us']:>9.1f}"
                f"{_fmt_us(overhead(v.name), signed=True):>10}"
                f"{spread(v.name)}{_fmt_us(mean_overhead(v.name), signed=True):>8}"
                f"  {results[v.name]['check']}"
            )
        else:
            if section != "logs":
                lines.append("-- log lines (µs per line, output to /dev/null)")
                section = "logs"
            lines.append(
                f"{v.label:<44}{'':>10}{'':>7}{timing['median_us']:>9.2f}{'':>10}"
                f"{timing['p25_us']:>7.2f}-{timing['p75_us']:<7.2f}"
            )

    goals: list[tuple[str, str, str, bool | None]] = []

    def ratio_goal(framework: str) -> None:
        ob, tr = overhead(f"obskit-{framework}-1"), overhead(f"trio-{framework}-1")
        if ob is None or tr is None or tr <= 0:
            return
        goals.append(
            (
                f"obskit overhead ÷ trio overhead ({framework}, 1 route)",
                f"{ob / tr:.3f}  ({ob:+.1f} / {tr:+.1f} µs)",
                f"≤ {GOAL_RATIO} (here: ≤ {GOAL_RATIO * tr:.1f} µs)",
                ob / tr <= GOAL_RATIO,
            )
        )

    def mean_ratio(framework: str) -> None:
        ob, tr = mean_overhead(f"obskit-{framework}-1"), mean_overhead(f"trio-{framework}-1")
        if ob is None or tr is None or tr <= 0:
            return
        goals.append(
            (
                f"same, on the means ({framework}, 1 route)",
                f"{ob / tr:.3f}  ({ob:+.1f} / {tr:+.1f} µs)",
                f"≤ {GOAL_RATIO}",
                ob / tr <= GOAL_RATIO,
            )
        )

    for framework in ("starlette", "fastapi"):
        ratio_goal(framework)
        mean_ratio(framework)
    unsampled = overhead("obskit-unsampled-starlette-1")
    if unsampled is not None:
        goals.append(
            (
                "obskit overhead, not sampled (starlette)",
                f"{unsampled:+.1f} µs",
                f"≤ {GOAL_UNSAMPLED_US:.0f} µs",
                unsampled <= GOAL_UNSAMPLED_US,
            )
        )
    for name in ("obskit", "obskit-unsampled"):
        one, many = overhead(f"{name}-starlette-1"), overhead(f"{name}-starlette-200")
        if one is None or many is None:
            continue
        tolerance = max(ROUTES_TOLERANCE_US, ROUTES_TOLERANCE_SHARE * abs(one))
        goals.append(
            (
                f"{_LABELS[name]}: overhead with 200 routes vs 1",
                f"{many:+.1f} vs {one:+.1f} µs",
                f"≈ equal (|Δ| ≤ {tolerance:.1f} µs)",
                abs(many - one) <= tolerance,
            )
        )
    for name, goal, what in (
        ("log-obskit-structlog", GOAL_STRUCTLOG_US, "log line through structlog"),
        ("log-obskit-stdlib", GOAL_STDLIB_US, "log line through the stdlib bridge"),
    ):
        if name in med:
            goals.append((what, f"{med[name]:.2f} µs", f"≤ {goal:.0f} µs", med[name] <= goal))
    export_goals(goals, overhead, results)
    if goals:
        lines += ["", f"{'goal (issues #3, #10)':<56}{'measured':<32}{'target':<30}verdict"]
        for what, measured, target, ok in goals:
            verdict = "met" if ok else "NOT met"
            lines.append(f"{what:<56}{measured:<32}{target:<30}{verdict}")
    return "\n".join(lines)


def export_goals(
    goals: list[tuple[str, str, str, bool | None]],
    overhead: Any,
    results: dict[str, dict[str, Any]],
) -> None:
    """The real-export goals (issue #10), as ratios of figures measured in the same run."""
    ob = overhead("obskit-export-fastapi-1")
    trio, pfi = (
        overhead("trio-export-fastapi-1"),
        overhead("prometheus-fastapi-instrumentator-fastapi-1"),
    )
    if ob is not None and trio:
        goals.append(
            (
                "real export: obskit ÷ trio (fastapi)",
                f"{ob / trio:.3f}  ({ob:+.1f} / {trio:+.1f} µs)",
                f"≤ {GOAL_EXPORT_TRIO_RATIO}",
                ob / trio <= GOAL_EXPORT_TRIO_RATIO,
            )
        )
    if ob is not None and pfi:
        goals.append(
            (
                "real export: obskit ÷ pfi metrics-only (fastapi)",
                f"{ob / pfi:.3f}  ({ob:+.1f} / {pfi:+.1f} µs)",
                f"≤ {GOAL_EXPORT_PFI_RATIO:.0f}",
                ob / pfi <= GOAL_EXPORT_PFI_RATIO,
            )
        )
    # Not sampled, nothing is exported: the Starlette row (a lighter app, so the harder ratio)
    # counts as much as the FastAPI one.  The bare twin is the one timed in the same process.
    for name, framework in (
        ("obskit-unsampled-export-fastapi-1", "fastapi"),
        ("obskit-unsampled-starlette-1", "starlette"),
    ):
        unsampled = overhead(name)
        bare = results.get(name, {}).get("bare_timing", {}).get("median_us")
        if unsampled is None or not bare:
            continue
        goals.append(
            (
                f"not sampled: overhead ÷ bare app's time ({framework})",
                f"{unsampled / bare:.3f}  ({unsampled:+.1f} / {bare:.1f} µs)",
                f"≤ {GOAL_UNSAMPLED_BARE_RATIO:.0f}",
                unsampled / bare <= GOAL_UNSAMPLED_BARE_RATIO,
            )
        )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (fewer iterations)")
    parser.add_argument("--only", metavar="REGEX", help="run only the variants matching REGEX")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write raw results here")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="time batches in wall-clock time (default) or in the process's CPU time (all "
        "threads), which a loaded machine does not inflate",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child, args.quick, args.out)
        return 0

    selected = [v for v in variants() if not args.only or re.search(args.only, v.name)]
    needed = {v.baseline for v in selected if v.kind == "asgi"}
    selected += [v for v in variants() if v.name in needed and v not in selected]
    order = {v.name: i for i, v in enumerate(variants())}
    selected.sort(key=lambda v: order[v.name])

    started = time.monotonic()
    load_before = Path("/proc/loadavg").read_text().strip()
    results = {}
    receiver = None
    if any(v.builder.endswith("-export") for v in selected):
        sys.path.insert(0, str(HERE))
        from _receiver import Receiver

        receiver = Receiver()
    try:
        for i, variant in enumerate(selected, 1):
            print(f"[{i}/{len(selected)}] {variant.name}", file=sys.stderr, flush=True)
            endpoint = receiver.endpoint if receiver is not None else None
            results[variant.name] = run_variant(variant, args.quick, endpoint, args.clock)
    finally:
        if receiver is not None:
            receiver.stop()
    load = (load_before, Path("/proc/loadavg").read_text().strip())
    text = report(results, args.quick, time.monotonic() - started, load, args.clock)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
