"""Real Prometheus servers for ``obskit slo status`` and ``obskit slo gate``.

* ``backfilled``: eight days of raw counters with known error ratios (:mod:`._history`) written
  with ``promtool tsdb create-blocks-from openmetrics``, the rules ``obskit slo build`` generates
  from :data:`SHOP_SPEC` backfilled over them (:mod:`._backfill`), then the server started with
  those rules loaded.  ``status --at END`` must print the figures summed from the data.
* ``live``: a scrape target serving counters that fail half the requests, scraped and evaluated
  every second with the rules of :data:`LIVE_SPEC` (alerts without ``for:``), until a page tier
  fires; it has seconds of data for a 7-day period.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from examples.stack import Prometheus, scrape_target
from tests.conftest import free_port

from obskit import conventions as c

from . import _history as h
from ._backfill import backfill_rules

SHOP_SPEC = """\
service: shop
policy:
  freeze_below: 0.1
  warn_below: 0.75
  freeze_while_firing: [page]
slos:
  - name: availability
    objective: 99.9
    period: 7d
    sli:
      availability: {routes: ["/checkout"]}
  - name: receipts
    objective: 99
    period: 7d
    sli:
      operation: {name: send-receipt}
    policy:
      freeze_below: 0.9
      warn_below: 0.95
"""

LIVE_SPEC = """\
service: live
policy: {freeze_while_firing: [page]}
slos:
  - name: availability
    objective: 99.9
    period: 7d
    sli:
      availability: {}
    alerting:
      page: {for: 0s}
      ticket: {for: 0s}
"""

#: A Sloth ``prometheus/v1`` spec (the shape of Sloth's own examples) on the live target: its
#: alerts keep Sloth's name, labels and shape (one alert per severity, no ``obskit_tier``).
SLOTH_SPEC = """\
version: "prometheus/v1"
service: legacy
slos:
  - name: requests-availability
    objective: 99.9
    sli:
      events:
        error_query: >-
          sum(rate(http_server_request_duration_seconds_count{job="live",
          http_response_status_code=~"5.."}[{{.window}}]))
        total_query: >-
          sum(rate(http_server_request_duration_seconds_count{job="live"}[{{.window}}]))
    alerting:
      name: LegacyHighErrorRate
      page_alert:
        labels:
          severity: pageteam
      ticket_alert:
        labels:
          severity: slack
"""


def run_obskit(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process (stdout is a pipe: no colour)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OBSKIT_PROMETHEUS")}
    full_env.pop("NO_COLOR", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "obskit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


def build(spec_dir: Path, out: Path) -> list[Path]:
    """``obskit slo build SPEC_DIR --out OUT``; returns the rule files."""
    result = run_obskit("slo", "build", str(spec_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return sorted((out / "rules").glob("*.yaml"))


@dataclass
class Backfilled:
    """The backfilled server, its spec folder and the instant the data ends."""

    prometheus: Prometheus
    spec_dir: Path
    end: int
    passes: int
    rule_files: list[Path]


@pytest.fixture(scope="session")
def backfilled(
    prometheus_bin: str, promtool: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backfilled]:
    """Raw history and backfilled recording rules in a server with the rules loaded."""
    tmp = tmp_path_factory.mktemp("backfilled")
    (tmp / "slo").mkdir()
    (tmp / "slo" / "shop.yaml").write_text(SHOP_SPEC)
    rule_files = build(tmp / "slo", tmp / "build")
    # Whole minutes, a few hours back: nothing the server evaluates live reaches this instant.
    end = (int(time.time()) // 3600 - 3) * 3600
    h.write_openmetrics(tmp / "history.om", end)
    data = tmp / "prometheus" / "data"
    data.mkdir(parents=True)
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
         str(tmp / "history.om"), str(data)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Retention counts from the newest block: days-old history needs more than the default day.
    prom = Prometheus(
        free_port(), {}, rule_files, binary=prometheus_bin, workdir=tmp / "prometheus",
        retention="60d",
    )  # fmt: skip
    prom.start(timeout=60)
    try:
        passes = backfill_rules(
            prom,
            promtool,
            rule_files,
            long_start=end - 7 * h.DAY - h.HOUR,
            short_start=end - 1800,
            end=end,
            work=tmp,
        )
        yield Backfilled(prom, tmp / "slo", end, passes, rule_files)
    finally:
        prom.stop()


def _half_failing(scrape: int) -> str:
    """The live target's exposition: counters that grow by 10 requests per scrape, half of them
    failed (HTTP 500)."""
    n = scrape * 5
    return "".join(
        f'{c.HTTP_DURATION_COUNT}{{{c.LABEL_ROUTE}="/x",{c.LABEL_METHOD}="GET",'
        f'{c.LABEL_STATUS}="{status}"}} {n}\n'
        for status in ("200", "500")
    )


@dataclass
class Live:
    """The live server and its spec folder."""

    prometheus: Prometheus
    spec_dir: Path
    sloth_dir: Path


@pytest.fixture(scope="session")
def live(prometheus_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A server evaluating LIVE_SPEC's rules on a half-failing target until page-1h fires."""
    tmp = tmp_path_factory.mktemp("live")
    (tmp / "slo").mkdir()
    (tmp / "slo" / "live.yaml").write_text(LIVE_SPEC)
    rule_files = build(tmp / "slo", tmp / "build")
    (tmp / "sloth").mkdir()
    (tmp / "sloth" / "legacy.yaml").write_text(SLOTH_SPEC)
    rule_files += build(tmp / "sloth", tmp / "build-sloth")
    target = scrape_target(_half_failing).start()
    (tmp / "prometheus").mkdir()
    prom = Prometheus(
        free_port(),
        {"live": [target.address]},
        rule_files,
        binary=prometheus_bin,
        workdir=tmp / "prometheus",
    )
    try:
        prom.start()
        prom.wait_for(
            f'{c.ALERTS_SERIES}{{{c.SLO_LABEL_SERVICE}="live",{c.ALERT_LABEL_TIER}="page-1h",'
            f'{c.ALERT_STATE_LABEL}="{c.ALERT_STATE_FIRING}"}}',
            timeout=60,
        )
        # The tests read how long the recorded series cover: with a single recorded sample that
        # is 0 s, so wait until several evaluations have recorded the SLI (a race otherwise).
        prom.wait_for(
            f'count_over_time({c.RULE_SLI_TOTAL_RATE}{{{c.SLO_LABEL_SERVICE}="live"}}[1m]) >= 3',
            timeout=60,
        )
        yield Live(prom, tmp / "slo", tmp / "sloth")
    finally:
        prom.stop()
        target.stop()
