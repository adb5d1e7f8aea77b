"""Benchmark: how late obskit's chained recordings follow a change, Prometheus vs vmalert.

    python benchmarks/bench_vmalert_lag.py [--interval 2s] [--only prometheus,vm-default,...]

Builds one SLO (an events ratio over ``lagbench_requests_total``) with ``obskit slo build``,
serves that counter from this process (10 requests/s, no errors), and for each engine set-up in
turn: starts it with the rules, waits until every recording of the chain exists and has settled,
then makes 20 % of the requests fail and measures how long each link takes to show it:

* ``raw``: the engine's own ``sum(rate(errors[5m])) > 0`` (scrape + ingestion);
* ``errors:rate5m``: the first recording (reads raw series);
* ``ratio_rate5m``: reads two recordings;
* ``burn_rate 5m``: reads that ratio (three recordings deep);
* ``page alert``: the 14.4x page (reads the 1h ratio and the 5m ratio) firing.

Set-ups: ``prometheus`` (Debian's); ``vm-default`` (victoria-metrics and vmalert with their
default flags, only ``-evaluationInterval`` set); ``vm-tuned`` (the flags of
``examples/vmstack.py``: ``-search.latencyOffset=2s``, ``-remoteWrite.flushInterval`` = interval,
``-disableAlertgroupLabel``).  Needs Debian's ``prometheus``, ``victoria-metrics`` and
``prometheus-alertmanager``; everything on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from examples.alertmanager import Alertmanager  # noqa: E402
from examples.stack import Prometheus, free_port, scrape_target  # noqa: E402
from examples.vmstack import VictoriaMetricsStack  # noqa: E402

from obskit import conventions as c  # noqa: E402

SPEC = """\
service: lagbench
slos:
  - name: requests
    objective: 99.9
    sli:
      ratio:
        errors: sum(rate(lagbench_requests_total{job="lagbench",code="500"}[{{.window}}]))
        total: sum(rate(lagbench_requests_total{job="lagbench"}[{{.window}}]))
    alerting:
      page:
        for: 0s
      ticket:
        for: 0s
"""
GOOD_PER_S, ERRORS_PER_S = 10.0, 2.0


class Exporter:
    """``/metrics`` with two counters that advance with the wall clock; errors once
    ``failing_since`` is set."""

    def __init__(self) -> None:
        self.began = time.time()
        self.failing_since: float | None = None
        self._server = scrape_target(self._exposition).start()
        self.address = self._server.address

    def _exposition(self, _scrape: int) -> str:
        now = time.time()
        errors = ERRORS_PER_S * (now - self.failing_since if self.failing_since else 0)
        good = GOOD_PER_S * (now - self.began)
        return (
            "# TYPE lagbench_requests_total counter\n"
            f'lagbench_requests_total{{code="200"}} {good:.3f}\n'
            f'lagbench_requests_total{{code="500"}} {errors:.3f}\n'
        )

    def stop(self) -> None:
        self._server.stop()


def _value(engine: Any, expr: str) -> float | None:
    result = engine.query(expr)
    return float(result[0]["value"][1]) if result else None


def _firing(engine: Any) -> bool:
    alerts = engine.api("alerts")["alerts"] or []
    return any(
        a["state"] == "firing" and a["labels"].get(c.ALERT_LABEL_TIER) == "page-1h" for a in alerts
    )


def _links() -> dict[str, Callable[[Any], bool]]:
    sel = '{obskit_service="lagbench"}'
    burn = f'{c.RULE_BURN_RATE}{{obskit_service="lagbench",{c.SLO_LABEL_WINDOW}="5m"}}'
    raw = 'sum(rate(lagbench_requests_total{job="lagbench",code="500"}[5m]))'
    return {
        "raw": lambda e: (_value(e, raw) or 0) > 0,
        "errors:rate5m": lambda e: (_value(e, c.RULE_SLI_ERRORS_RATE + sel) or 0) > 0,
        "ratio_rate5m": lambda e: (_value(e, c.error_ratio_rule("5m") + sel) or 0) > 0,
        "burn_rate 5m": lambda e: (_value(e, burn) or 0) > 0,
        "page alert": _firing,
    }


def measure(name: str, interval: str, rules: list[Path], timeout: float) -> dict[str, float]:
    """Seconds from the first failing request to each link showing it, for one set-up."""
    exporter = Exporter()
    am = Alertmanager().start()
    targets = {"lagbench": [exporter.address]}
    engine: Any
    if name == "prometheus":
        engine = Prometheus(free_port(), targets, rules, interval=interval).start()
    else:
        tuned = name == "vm-tuned"
        engine = VictoriaMetricsStack(
            targets,
            rules,
            notifier_urls=[am.url],
            interval=interval,
            vm_flags=() if not tuned else ("-search.latencyOffset=2s",),
            vmalert_tuning=None if tuned else [f"-evaluationInterval={interval}"],
        ).start()
    try:
        warm = f'{c.RULE_BURN_RATE}{{obskit_service="lagbench",{c.SLO_LABEL_WINDOW}="5m"}}'
        started = time.monotonic()
        while _value(engine, warm) is None:  # every link of the chain exists (value 0)
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{name}: the chain never appeared")
            time.sleep(0.2)
        warm_s = time.monotonic() - started
        time.sleep(5)
        exporter.failing_since = time.time()
        step = time.monotonic()
        seen: dict[str, float] = {"chain exists after start": warm_s}
        links = _links()
        while len(seen) <= len(links) and time.monotonic() - step < timeout:
            for link, check in links.items():
                if link not in seen and check(engine):
                    seen[link] = time.monotonic() - step
            time.sleep(0.2)
        return seen
    finally:
        engine.stop()
        am.stop()
        exporter.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", default="2s", help="scrape and evaluation interval")
    parser.add_argument("--only", default="prometheus,vm-default,vm-tuned")
    parser.add_argument("--timeout", type=float, default=150.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "slo").mkdir()
        (Path(tmp) / "slo" / "lagbench.yaml").write_text(SPEC)
        subprocess.run(
            [sys.executable, "-m", "obskit", "slo", "build", f"{tmp}/slo", "--out", f"{tmp}/out"],
            check=True,
            capture_output=True,
        )
        rules = sorted((Path(tmp) / "out" / "rules").glob("*.yaml"))
        names = args.only.split(",")
        results = {name: measure(name, args.interval, rules, args.timeout) for name in names}
    links = ["chain exists after start", *_links()]
    print(f"seconds after the first failing request (interval {args.interval}):")
    print(f"{'':26}" + "".join(f"{name:>14}" for name in names))
    for link in links:
        cells = "".join(
            f"{results[n][link]:>14.1f}" if link in results[n] else f"{'> timeout':>14}"
            for n in names
        )
        print(f"{link:26}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
