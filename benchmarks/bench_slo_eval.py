"""Benchmark: what one SLO costs Prometheus per evaluation, obskit's rules vs Sloth-shaped ones.

    python benchmarks/bench_slo_eval.py                 # 6,000 series, 84 h, about 10 minutes
    python benchmarks/bench_slo_eval.py --quick         # 600 series, 12 h, a smoke run
    python benchmarks/bench_slo_eval.py --series 6000 --hours 84 --step 60 --evaluations 6

1. Builds a realistic history with ``promtool tsdb create-blocks-from openmetrics``: the
   ``http_server_request_duration_seconds_count`` series obskit's runtime exposes
   (``obskit.conventions``), 10 instances x N routes x GET/POST x 10 status codes (6,000 by
   default), one sample per ``--step`` seconds (60 s, Prometheus' default scrape interval) over
   ``--hours`` (84), with a daily traffic cycle and two error incidents.  Written one 2-hour
   file at a time (promtool re-reads its whole input for every 2-hour block it writes).
2. Serves the same counters live on 127.0.0.1 (an HTTP exporter continuing the history), so the
   5-minute windows see fresh data.
3. Starts Prometheus on that data (no rules), waits for it to compact the imported blocks, and
   backfills obskit's two 5-minute rate rules over the whole history with ``promtool tsdb
   create-blocks-from rules`` at the evaluation interval (what a user does once when adding an
   SLO to a service with history: docs/slo-rules.md), so obskit's long windows see 84 hours
   too and the comparison is fair.
4. Restarts Prometheus with both rule files at a 30 s evaluation interval: obskit's rules of an
   availability SLO (as ``obskit slo build`` writes them) and Sloth-shaped rules of the same SLO
   (Sloth v0.11's three groups, the same SLI queries, every window a raw ``rate(...[w])``).
5. Waits for several evaluations of every group, reads ``evaluationTime`` from
   ``/api/v1/rules``, and prints both side by side with the ratio, and the two rule sets' 1d and
   3d error ratios (they must agree).

Needs ``prometheus`` and ``promtool`` on PATH (Debian package ``prometheus``) and a few GB free
in the temporary folder (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from examples.stack import LocalServer, Prometheus, free_port, scrape_target  # noqa: E402

from obskit import conventions as c  # noqa: E402
from obskit.slo._load import load_paths  # noqa: E402
from obskit.slo._model import SLO  # noqa: E402
from obskit.slo._render import render_rule_file  # noqa: E402
from obskit.slo._rules import SLI_WINDOWS, RuleGroup, backfill_groups, service_groups  # noqa: E402

SERVICE = "checkout"
INSTANCES = 10
METHODS = {"GET": 0.8, "POST": 0.2}
#: Status code → share of requests; 5xx are the SLO's errors.
STATUSES = {"200": 0.9, "201": 0.03, "204": 0.02, "301": 0.01, "400": 0.01, "404": 0.02,
            "429": 0.004, "500": 0.003, "502": 0.002, "503": 0.001}  # fmt: skip
REQUESTS_PER_SECOND = 600.0
DAY = 86400.0
BLOCK = 7200
SPEC = f"""\
service: {SERVICE}
slos:
  - name: availability
    objective: 99.9
    sli:
      availability: {{}}
"""


@dataclass(frozen=True)
class Traffic:
    """Counters as closed-form functions of time, so history and live exporter agree."""

    start: float
    #: (start, end, multiplier) of error incidents on the 5xx series.
    incidents: tuple[tuple[float, float, float], ...]

    def requests(self, t: float) -> float:
        """Integral of the daily cycle 1 + 0.6 sin(2 pi t / day) from the start to ``t``."""
        k = 2 * math.pi / DAY
        return (t - self.start) + 0.6 / k * (math.cos(k * self.start) - math.cos(k * t))

    def errors(self, t: float) -> float:
        """The same for 5xx series, with the incidents' extra errors."""
        value = self.requests(t)
        for begin, end, factor in self.incidents:
            if t > begin:
                value += (factor - 1) * (self.requests(min(t, end)) - self.requests(begin))
        return value


def _series(count: int) -> list[tuple[str, float, bool]]:
    """(label text, requests per second, is 5xx) of ``count`` series (multiples of 200)."""
    routes = max(1, count // (INSTANCES * len(METHODS) * len(STATUSES)))
    weights = [1 / (r + 1) for r in range(routes)]  # a few busy routes, a long tail
    total_weight = sum(weights)
    result = []
    for r in range(routes):
        for method, method_share in METHODS.items():
            for status, status_share in STATUSES.items():
                for i in range(INSTANCES):
                    labels = (
                        f'{c.LABEL_METHOD}="{method}",{c.LABEL_ROUTE}="/api/r{r}/{{id}}",'
                        f'{c.LABEL_STATUS}="{status}",instance="app-{i}:9464",job="{SERVICE}"'
                    )
                    rps = (REQUESTS_PER_SECOND * weights[r] / total_weight * method_share
                           * status_share / INSTANCES)  # fmt: skip
                    result.append((labels, rps, status.startswith("5")))
    return result


def _write_chunk(path: Path, series: list[tuple[str, float, bool]], traffic: Traffic,
                 times: list[int]) -> None:  # fmt: skip
    req = [traffic.requests(t) for t in times]
    err = [traffic.errors(t) for t in times]
    with path.open("w") as out:
        for labels, rps, is_error in series:
            prefix = f"{c.HTTP_DURATION_COUNT}{{{labels}}} "
            cumulative = err if is_error else req
            out.write("".join(
                f"{prefix}{rps * v:.2f} {t}\n" for v, t in zip(cumulative, times, strict=True)
            ))  # fmt: skip
        out.write("# EOF\n")


def build_history(folder: Path, series: list[tuple[str, float, bool]], traffic: Traffic,
                  end: int, step: int) -> tuple[float, float, int]:  # fmt: skip
    """OpenMetrics → TSDB blocks in ``folder/data``, one 2-hour file at a time, generation of
    the next file overlapping promtool's import of the previous.  Returns (generation seconds,
    wall seconds, samples)."""
    data = folder / "data"
    data.mkdir()
    first = int(traffic.start) // step * step + step
    times = list(range(first, end + 1, step))
    chunks: dict[int, list[int]] = {}
    for t in times:
        chunks.setdefault(t // BLOCK, []).append(t)
    generating = 0.0
    wall = time.monotonic()
    pending: subprocess.Popen[bytes] | None = None
    pending_file: Path | None = None
    for index, chunk_times in enumerate(chunks.values()):
        path = folder / f"chunk-{index % 2}.om"
        began = time.monotonic()
        _write_chunk(path, series, traffic, chunk_times)
        generating += time.monotonic() - began
        if pending is not None:
            _finish(pending, pending_file)
        pending = subprocess.Popen(
            ["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(path), str(data)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        pending_file = path
    if pending is not None:
        _finish(pending, pending_file)
    return generating, time.monotonic() - wall, len(times) * len(series)


def _finish(proc: subprocess.Popen[bytes], path: Path | None) -> None:
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"promtool create-blocks-from openmetrics failed: {err.decode()}")
    if path is not None:
        path.unlink()


def exporter(series: list[tuple[str, float, bool]], traffic: Traffic) -> LocalServer:
    """Serve the counters at the time of each scrape (the history, continued)."""

    def exposition(_scrape: int) -> str:
        now = time.time()
        req, err = traffic.requests(now), traffic.errors(now)
        return "".join(
            f"{c.HTTP_DURATION_COUNT}{{{labels}}} {rps * (err if bad else req):.2f}\n"
            for labels, rps, bad in series
        )

    return scrape_target(exposition)


def start_prometheus(folder: Path, target: str, step: int, rule_files: list[Path]) -> Prometheus:
    """Prometheus on the benchmark's data folder (kept across restarts), scraping ``target``
    every ``step`` seconds with the series' own labels, evaluating ``rule_files`` every 30 s."""
    prom = Prometheus(
        free_port(), {"exporter": [target]}, rule_files, interval=f"{step}s",
        evaluation_interval="30s", honor_labels=True, workdir=folder, retention="30d",
    )  # fmt: skip
    try:
        return prom.start(timeout=300)  # replaying a large head takes minutes
    except RuntimeError as exc:
        raise SystemExit(f"prometheus did not start: {exc}") from None


def own_metric(prom: Prometheus, name: str) -> float:
    """A value of Prometheus' own /metrics."""
    with urllib.request.urlopen(f"{prom.url}/metrics", timeout=30) as response:  # noqa: S310
        text: str = response.read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return math.nan


def value(prom: Prometheus, expr: str) -> float:
    """One instant query's single value (NaN when empty)."""
    result = prom.query(expr)
    return float(result[0]["value"][1]) if result else math.nan


def samples_read(prom: Prometheus, expr: str) -> float:
    """Samples the query engine reads to evaluate ``expr`` now (``stats=all``): the work of one
    evaluation, independent of how busy the machine is."""
    stats = prom.api("query", timeout=300, query=expr, stats="all").get("stats", {})
    return float(stats.get("samples", {}).get("totalQueryableSamples", math.nan))


def wait_until_compacted(prom: Prometheus, limit: float = 900) -> float:
    """Until the number of loaded blocks holds for two reload cycles (65 s apart)."""
    began = time.monotonic()
    last = own_metric(prom, "prometheus_tsdb_blocks_loaded")
    while time.monotonic() - began < limit:
        time.sleep(65)
        now = own_metric(prom, "prometheus_tsdb_blocks_loaded")
        if now == last:
            break
        last = now
    return time.monotonic() - began


def sloth_groups(slo: SLO) -> list[RuleGroup]:
    """Sloth v0.11's three groups for ``slo`` (same SLI queries, raw windows)."""
    from obskit.slo._rules import Rule

    sli = slo.sli
    assert sli.error_query is not None
    assert sli.total_query is not None
    ident = {"sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name}
    sel = ", ".join(f'{k}="{v}"' for k, v in ident.items())

    def labels(**extra: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted({**ident, **extra}.items()))

    sli_rules = [
        Rule(record=f"slo:sli_error:ratio_rate{w}", labels=labels(sloth_window=w),
             expr=f"({sli.render(sli.error_query, w)} OR on() vector(0))\n/\n"
                  f"({sli.render(sli.total_query, w)})")
        for w in SLI_WINDOWS
    ]  # fmt: skip
    period = slo.period
    sli_rules.append(Rule(
        record=f"slo:sli_error:ratio_rate{period}", labels=labels(sloth_window=period),
        expr=f"sum_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[{period}])\n"
             f"/ ignoring (sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m{{{sel}}}"
             f"[{period}])",
    ))  # fmt: skip
    on = "/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
    meta = [
        Rule(record="slo:objective:ratio", labels=labels(), expr="vector(0.999)"),
        Rule(record="slo:error_budget:ratio", labels=labels(), expr="vector(1-0.999)"),
        Rule(record="slo:time_period:days", labels=labels(), expr=f"vector({slo.period_days})"),
        Rule(record="slo:current_burn_rate:ratio", labels=labels(),
             expr=f"slo:sli_error:ratio_rate5m{{{sel}}}\n{on}slo:error_budget:ratio{{{sel}}}"),
        Rule(record="slo:period_burn_rate:ratio", labels=labels(),
             expr=f"slo:sli_error:ratio_rate{period}{{{sel}}}\n{on}"
                  f"slo:error_budget:ratio{{{sel}}}"),
        Rule(record="slo:period_error_budget_remaining:ratio", labels=labels(),
             expr=f"1 - slo:period_burn_rate:ratio{{{sel}}}"),
        Rule(record="sloth_slo_info", labels=labels(sloth_objective="99.9"), expr="vector(1)"),
    ]  # fmt: skip

    def pair(short: str, long: str, factor: float) -> str:
        return (
            f"(\n    max(slo:sli_error:ratio_rate{short}{{{sel}}} > ({factor:g} * 0.001)) "
            "without (sloth_window)\n  and\n"
            f"    max(slo:sli_error:ratio_rate{long}{{{sel}}} > ({factor:g} * 0.001)) "
            "without (sloth_window)\n)"
        )

    alerts = [
        Rule(alert="SlothPage", labels=(("sloth_severity", "page"),),
             expr=f"{pair('5m', '1h', 14.4)}\nor\n{pair('30m', '6h', 6)}"),
        Rule(alert="SlothTicket", labels=(("sloth_severity", "ticket"),),
             expr=f"{pair('2h', '1d', 3)}\nor\n{pair('6h', '3d', 1)}"),
    ]  # fmt: skip
    return [
        RuleGroup(f"sloth-slo-sli-recordings-{slo.id}", tuple(sli_rules)),
        RuleGroup(f"sloth-slo-meta-recordings-{slo.id}", tuple(meta)),
        RuleGroup(f"sloth-slo-alerts-{slo.id}", tuple(alerts)),
    ]


def collect(prom: Prometheus, evaluations: int, limit: float) -> dict[str, list[float]]:
    """evaluationTime of each group's evaluations, the first one of each group dropped (cold
    caches), until every group has ``evaluations`` more."""
    seen: dict[str, dict[str, float]] = {}
    began = time.monotonic()
    while time.monotonic() - began < limit:
        for group in prom.api("rules")["groups"]:
            name, last = str(group["name"]), str(group["lastEvaluation"])
            if not last.startswith("0001"):
                seen.setdefault(name, {})[last] = float(group["evaluationTime"])  # type: ignore[arg-type]
        if seen and all(len(v) > evaluations for v in seen.values()):
            break
        time.sleep(3)
    return {name: [t for _, t in sorted(v.items())][1:] for name, v in seen.items()}


def _step(label: str, action: Callable[[], object]) -> object:
    began = time.monotonic()
    print(f"… {label}", flush=True)
    result = action()
    print(f"  done in {time.monotonic() - began:.1f} s", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=6000, help="request-count series (6000)")
    parser.add_argument("--hours", type=float, default=84, help="history in hours (84)")
    parser.add_argument("--step", type=int, default=60, help="seconds between samples (60)")
    parser.add_argument("--evaluations", type=int, default=6, help="evaluations per group (6)")
    parser.add_argument("--quick", action="store_true", help="600 series, 12 h: a smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.quick:
        args.series, args.hours, args.evaluations = 600, 12, 3
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            raise SystemExit(f"`{tool}` is not on PATH (Debian package `prometheus`)")

    folder = Path(tempfile.mkdtemp(prefix="obskit-bench-eval-"))
    try:
        (folder / "slo").mkdir()
        (folder / "slo" / f"{SERVICE}.yaml").write_text(SPEC)
        (service,) = load_paths([str(folder / "slo")])
        ours = service_groups(service)
        theirs = sloth_groups(service.slos[0])
        for name, groups in (("obskit.yaml", ours), ("sloth.yaml", theirs),
                             ("backfill.yaml", backfill_groups(ours))):  # fmt: skip
            (folder / name).write_text(render_rule_file(SERVICE, groups, ["bench"], "prometheus"))

        end = int(time.time()) // args.step * args.step
        start = end - args.hours * 3600
        span = end - start
        # Two incidents on the 5xx series: 30 minutes at 20x, and 2 hours at 4x.
        first, second = start + 0.25 * span, end - 0.4 * span
        traffic = Traffic(start, ((first, first + 1800, 20.0), (second, second + 7200, 4.0)))
        series = _series(args.series)
        print(f"{len(series)} series, {args.hours:g} h of history every {args.step} s, "
              f"in {folder}")  # fmt: skip
        gen, wall, samples = build_history(folder, series, traffic, end, args.step)
        print(f"history: {samples / 1e6:.1f} M samples; generating the OpenMetrics text "
              f"{gen:.0f} s, with promtool's import alongside {wall:.0f} s wall")  # fmt: skip

        with exporter(series, traffic) as target:
            prom = start_prometheus(folder, target.address, args.step, [])
            try:
                settle = wait_until_compacted(prom)
                blocks = own_metric(prom, "prometheus_tsdb_blocks_loaded")
                print(f"prometheus compacted the imported blocks in {settle:.0f} s "
                      f"({blocks:.0f} blocks)")  # fmt: skip
                backfill_end = int(time.time())
                began = time.monotonic()
                result = subprocess.run(
                    ["promtool", "tsdb", "create-blocks-from", "rules", "-q",
                     f"--start={int(start) + 300}", f"--end={backfill_end}",
                     "--eval-interval=30s", f"--url={prom.url}",
                     f"--output-dir={folder / 'backfill'}", str(folder / "backfill.yaml")],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                backfill_seconds = time.monotonic() - began
                if result.returncode != 0:
                    raise SystemExit(f"rules backfill failed: {result.stdout}{result.stderr}")
                print(
                    f"backfill of the two 5m rate rules over {args.hours:g} h at 30 s: "
                    f"{backfill_seconds:.0f} s (promtool tsdb create-blocks-from rules)"
                )
            finally:
                prom.stop(timeout=300)  # a clean shutdown writes the head to disk
            for block in (folder / "backfill").iterdir():
                if block.is_dir():
                    shutil.move(str(block), str(folder / "data" / block.name))

            rules = [folder / "obskit.yaml", folder / "sloth.yaml"]
            prom = start_prometheus(folder, target.address, args.step, rules)
            try:
                times = collect(prom, args.evaluations, limit=60 * (args.evaluations + 4) * 3)
                check = {
                    w: (value(prom, c.error_ratio_rule(w)),
                        value(prom, f"slo:sli_error:ratio_rate{w}"))
                    for w in SLI_WINDOWS
                }  # fmt: skip
                read = {
                    g.name: sum(samples_read(prom, r.expr) for r in g.rules) for g in ours + theirs
                }
            finally:
                prom.stop(timeout=300)
        _report(times, read, ours, theirs, check)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def _report(times: dict[str, list[float]], read: dict[str, float], ours: list[RuleGroup],
            theirs: list[RuleGroup], check: dict[str, tuple[float, float]]) -> None:  # fmt: skip
    print("\nper-group evaluationTime (s) from /api/v1/rules, first evaluation dropped; samples")
    print("read by one evaluation of the group's expressions (query stats):")
    print(f"{'group':48} {'rules':>5} {'n':>3} {'median':>8} {'min':>8} {'max':>8} {'samples':>11}")
    totals: dict[str, tuple[float, float]] = {}
    for label, groups in (("obskit", ours), ("sloth-shaped", theirs)):
        total, total_read = 0.0, 0.0
        for group in groups:
            samples = times.get(group.name, [])
            median = statistics.median(samples) if samples else math.nan
            total += median
            total_read += read.get(group.name, math.nan)
            low, high = (min(samples), max(samples)) if samples else (math.nan, math.nan)
            print(f"{group.name:48} {len(group.rules):>5} {len(samples):>3} {median:>8.3f} "
                  f"{low:>8.3f} {high:>8.3f} {read.get(group.name, math.nan):>11,.0f}")  # fmt: skip
        totals[label] = (total, total_read)
    (ours_s, ours_read), (theirs_s, theirs_read) = totals["obskit"], totals["sloth-shaped"]
    print(f"\nper SLO and evaluation: obskit {ours_s:.3f} s, Sloth-shaped {theirs_s:.3f} s "
          f"({theirs_s / ours_s:.0f}x); samples read: obskit {ours_read:,.0f}, Sloth-shaped "
          f"{theirs_read:,.0f} ({theirs_read / ours_read:.0f}x)")  # fmt: skip
    print("\nerror ratio at the end (obskit from recorded 5m rates / Sloth-shaped raw):")
    for window, (mine, raw) in check.items():
        diff = abs(mine - raw) / raw if raw else math.nan
        print(f"  {window:>3}: {mine:.6f} / {raw:.6f}  (relative difference {diff:.2%})")


if __name__ == "__main__":
    sys.exit(main())
