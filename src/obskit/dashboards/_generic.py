"""The generic obskit service dashboard: RED panels for any service instrumented with
``obskit.init()``, no SLO spec needed.  The service is picked with the ``job`` variable.
"""

from __future__ import annotations

from typing import Final

from obskit import conventions as c
from obskit.dashboards import _panels as p
from obskit.dashboards._ids import GENERIC_UID
from obskit.dashboards._red import (
    ROUTE_MATCHER,
    add_red_panels,
    error_ratio_by,
    matchers,
    quantile_by,
    rate_by,
    ratio_or_zero,
    route_variable,
)

JOB_VARIABLE: Final = "job"
JOB_SELECTOR: Final = f'job="${JOB_VARIABLE}"'


def job_variable() -> p.Json:
    """The ``job`` variable: every scrape job that serves obskit's HTTP histogram."""
    query = f"label_values({c.HTTP_DURATION_COUNT}, job)"
    return {
        "datasource": p.ds(),
        "definition": query,
        "hide": 0,
        "includeAll": False,
        "label": "Service (job)",
        "multi": False,
        "name": JOB_VARIABLE,
        "options": [],
        "query": query,
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
        "type": "query",
    }


def _overview(grid: p.Grid) -> None:
    sel = matchers(JOB_SELECTOR, ROUTE_MATCHER)
    grid.row(p.row("Overview", collapsed=False))
    grid.add(
        p.stat(
            "Request rate",
            "Requests per second over the selected routes, right now.",
            rate_by(c.HTTP_DURATION_COUNT, sel, ""),
            unit="reqps",
            decimals=2,
            threshold_steps=p.thresholds("blue"),
        ),
        w=4,
        h=5,
    )
    grid.add(
        p.stat(
            "Error ratio (5xx)",
            "Share of 5xx responses right now. Orange above 1 %, red above 5 %: check the "
            "error ratio by route below, then the service's error logs.",
            error_ratio_by(sel, ""),
            unit="percentunit",
            decimals=2,
            threshold_steps=p.thresholds("green", (0.01, "orange"), (0.05, "red")),
        ),
        w=4,
        h=5,
    )
    grid.add(
        p.stat(
            "p99 latency",
            "99 % of requests finished faster than this, right now (histogram estimate).",
            quantile_by(0.99, sel, ""),
            unit="s",
            decimals=3,
            threshold_steps=p.thresholds("green", (0.5, "orange"), (1.0, "red")),
        ),
        w=4,
        h=5,
    )
    grid.add(
        p.stat(
            "Active requests",
            "Requests in flight across all instances. Climbing while the request rate stays "
            "flat means requests pile up: a slow dependency or exhausted workers.",
            f"sum({c.ACTIVE_REQUESTS}{{{JOB_SELECTOR}}})",
            unit="short",
            threshold_steps=p.thresholds("green"),
        ),
        w=4,
        h=5,
    )
    grid.add(
        p.table(
            "Versions running",
            "Instances per service version (from target_info). Two versions at once means a "
            "rollout is in progress, or stuck.",
            [
                p.target(
                    f"count by ({c.TARGET_INFO_LABEL_VERSION}) ({c.TARGET_INFO}{{{JOB_SELECTOR}}})",
                    0,
                    instant=True,
                    table=True,
                )
            ],
            unit="short",
            transformations=[
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "indexByName": {},
                        "renameByName": {
                            c.TARGET_INFO_LABEL_VERSION: "Version",
                            "Value": "Instances",
                        },
                    },
                }
            ],
        ),
        w=8,
        h=5,
    )


def _traffic(grid: p.Grid) -> None:
    sel = matchers(JOB_SELECTOR, ROUTE_MATCHER)
    grid.row(p.row("HTTP traffic", collapsed=False))
    add_red_panels(grid, JOB_SELECTOR)
    grid.add(
        p.timeseries(
            "Responses by status code",
            "Responses per second per HTTP status code. 4xx are client errors (bad input, "
            "auth); 5xx are the service's own failures and spend the error budget.",
            [
                p.target(
                    rate_by(c.HTTP_DURATION_COUNT, sel, c.LABEL_STATUS),
                    0,
                    legend=f"{{{{{c.LABEL_STATUS}}}}}",
                )
            ],
            unit="reqps",
            min_value=0,
        ),
        w=12,
        h=8,
    )
    grid.add(
        p.timeseries(
            "Active requests by instance",
            "Requests in flight per instance. One instance far above the others is stuck or "
            "receives an unfair share of the load.",
            [
                p.target(
                    f"sum by (instance) ({c.ACTIVE_REQUESTS}{{{JOB_SELECTOR}}})",
                    0,
                    legend="{{instance}}",
                )
            ],
            unit="short",
            min_value=0,
        ),
        w=12,
        h=8,
    )


def _operations(grid: p.Grid) -> None:
    sel = JOB_SELECTOR
    op = c.LABEL_OPERATION
    grid.row(p.row("Operations (obskit.observe)", collapsed=True))
    grid.add(
        p.timeseries(
            "Operation rate by outcome",
            "Non-HTTP operations (jobs, queue consumers, calls wrapped in obskit.observe) per "
            "second, split by outcome.",
            [
                p.target(
                    rate_by(c.OPERATION_DURATION_COUNT, sel, f"{op}, {c.LABEL_OUTCOME}"),
                    0,
                    legend=f"{{{{{op}}}}} {{{{{c.LABEL_OUTCOME}}}}}",
                )
            ],
            unit="ops",
            min_value=0,
        ),
        w=12,
        h=8,
    )
    errors = matchers(sel, f'{c.LABEL_OUTCOME}="{c.OUTCOME_ERROR}"')
    grid.add(
        p.timeseries(
            "Operation error ratio",
            "Share of operations that raised an exception, per operation.",
            [
                p.target(
                    ratio_or_zero(
                        rate_by(c.OPERATION_DURATION_COUNT, errors, op),
                        rate_by(c.OPERATION_DURATION_COUNT, sel, op),
                    ),
                    0,
                    legend=f"{{{{{op}}}}}",
                )
            ],
            unit="percentunit",
            min_value=0,
        ),
        w=12,
        h=8,
    )
    grid.add(
        p.timeseries(
            "Operation duration p99",
            "99th percentile duration per operation (histogram estimate); exemplars link to "
            "traces.",
            [
                p.target(
                    f"histogram_quantile(0.99, "
                    f"{rate_by(c.OPERATION_DURATION_BUCKET, sel, f'le, {op}')})",
                    0,
                    legend=f"{{{{{op}}}}}",
                    exemplar=True,
                )
            ],
            unit="s",
            min_value=0,
        ),
        w=24,
        h=8,
    )


def generic_dashboard() -> p.Json:
    """The generic obskit service dashboard (independent of any SLO spec)."""
    grid = p.Grid()
    _overview(grid)
    _traffic(grid)
    _operations(grid)
    return p.dashboard(
        uid=GENERIC_UID,
        title="obskit service",
        description=(
            "RED metrics of any service instrumented with obskit.init(): pick the service "
            "with the job variable. Works without an SLO spec."
        ),
        tags=["obskit", "service"],
        grid=grid,
        variables=[job_variable(), route_variable(JOB_SELECTOR)],
        time_from="now-6h",
    )
