"""Every query of every dashboard answers with data on a Prometheus fed by the example."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from examples.stack import Prometheus

from obskit import conventions as c
from obskit.dashboards import iter_queries, substitute_variables

from . import _grafana
from . import _traffic as t
from ._spec import COMMITTED_DASHBOARDS
from .conftest import Shop, traffic_mix

#: The dashboards committed in dashboards/, and those the build in the fixture wrote.
DASHBOARD_SETS = ("committed", "built")


def _dashboards(shop: Shop, which: str) -> dict[str, dict[str, Any]]:
    root = COMMITTED_DASHBOARDS if which == "committed" else shop.build_dir / "dashboards"
    files = sorted(root.rglob("*.json"))
    assert files, f"no dashboard in {root}"
    return {str(p.relative_to(root)): json.loads(p.read_text()) for p in files}


def _has_value(result: list[dict[str, Any]]) -> bool:
    """Whether a query result holds at least one finite number (NaN is no data on a panel)."""
    for series in result:
        points = series["values"] if "values" in series else [series["value"]]
        if any(math.isfinite(float(value)) for _, value in points):
            return True
    return False


def _answers(prom: Prometheus, expr: str) -> bool:
    return bool(prom.query(expr))


def _live(prom: Prometheus, expr: str, not_before: float) -> bool:
    return time.time() >= not_before and _answers(prom, expr)


def _wait(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.3)


@pytest.mark.parametrize("which", DASHBOARD_SETS)
def test_every_dashboard_query_returns_data(shop: Shop, which: str) -> None:
    """With live traffic, every panel query and every annotation query of every dashboard
    (committed in dashboards/, or written by the build), for every value a user can pick in its
    variables, returns at least one finite value on the real Prometheus: instant queries at
    "now", range queries and annotations over the dashboard's time range (the stack's lifetime).
    The "SLO alerts firing" annotations need a firing alert: the fixture's injected errors fire
    them (alert `for:` shortened, see tests/e2e/_spec.py), and the test waits for it."""
    prom = shop.prometheus

    for service in ("checkout", "search"):
        # The series the annotation reads, not only the alert's state in /api/v1/alerts.
        expr = f'ALERTS{{alertstate="firing", {c.SLO_LABEL_SERVICE}="{service}"}}'
        _wait(f"a firing {service} alert", partial(_answers, prom, expr))

    # Live traffic in the fixture's mix, so the SLIs (and the firing alerts) stay as they are.
    checkout_calls, search_calls = traffic_mix(1, seed=3)
    live = [(shop.checkout.url, checkout_calls), (shop.search.url, search_calls)]
    with t.background_load(live, rate=20, limit_s=60) as load:
        # Live panels read the last $__rate_interval (plus a scrape): wait until that whole
        # window lies inside the live load and both services show traffic in it.
        load_started = time.time()
        window_s = int(_grafana.builtins(load_started - shop.started_at)["__rate_interval"][:-1])
        for job in ("checkout", "search"):
            expr = f'sum(rate({c.HTTP_DURATION_COUNT}{{job="{job}"}}[{window_s}s])) > 0'
            _wait(
                f"live traffic on {job}",
                partial(_live, prom, expr, load_started + window_s + _grafana.SCRAPE_INTERVAL_S),
            )

        # Like Grafana, align the range to the step, so "now" itself is one of the points.
        end = time.time()
        step_s = int(_grafana.builtins(end - shop.started_at)["__interval"].rstrip("s"))
        start = end - math.ceil((end - shop.started_at) / step_s) * step_s
        checked, empty = 0, []
        for name, dashboard in _dashboards(shop, which).items():
            for values in _grafana.assignments(dashboard, prom, start, end):
                step = str(values["__interval"])
                for title, raw, instant in iter_queries(dashboard):
                    expr = substitute_variables(raw, values)
                    result = (
                        prom.query(expr, at=end)
                        if instant
                        else prom.query_range(expr, start, end, step)
                    )
                    checked += 1
                    if not _has_value(result):
                        where = f"{name} [{_grafana.describe(values)}] {title!r}"
                        empty.append(f"{where}: {expr}")
    print(f"{which}: {checked} dashboard queries checked, live load {sum(load.values())} requests")
    assert not [k for k in load if isinstance(k[2], str)], f"live load failed: {dict(load)}"
    assert not empty, "queries without data:\n" + "\n".join(empty)
    assert checked > 50
