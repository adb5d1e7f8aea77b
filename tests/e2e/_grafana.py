"""Grafana's side of a dashboard query: variables filled in the way Grafana fills them.

Built-in variables follow Grafana's Prometheus data source with its "scrape interval" setting
equal to the test Prometheus' 1 s:

* ``$__interval``: the time range divided by the panel's data points, never below the scrape
  interval — 1 s for the few-minute ranges of these tests;
* ``$__rate_interval``: ``max($__interval + scrape interval, 4 * scrape interval)`` — 4 s;
* ``$__range``: the dashboard's time range, in seconds.

Query variables (``label_values(selector, label)``) are resolved in dashboard order through
Prometheus' ``/api/v1/label/<label>/values?match[]=<selector>``, as Grafana does, with earlier
variables substituted into later selectors.  A multi-value variable whose default is "All" takes
every value; a single-value variable is tried with **each** of its values (Grafana shows the first
by default, a user may pick any), so each assignment is one full set of queries to run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from examples.stack import Prometheus

from obskit.dashboards import iter_variable_queries, substitute_variables

SCRAPE_INTERVAL_S = 1
MAX_DATA_POINTS = 1000  # Grafana's default for a full-width panel


def builtins(range_s: float) -> dict[str, str]:
    """``$__interval``, ``$__rate_interval``, ``$__range`` (and their ``_ms``/``_s`` forms)."""
    interval = max(SCRAPE_INTERVAL_S, math.ceil(range_s / MAX_DATA_POINTS))
    rate_interval = max(interval + SCRAPE_INTERVAL_S, 4 * SCRAPE_INTERVAL_S)
    whole_range = math.ceil(range_s)
    return {
        "__interval": f"{interval}s",
        "__interval_ms": str(interval * 1000),
        "__rate_interval": f"{rate_interval}s",
        "__range": f"{whole_range}s",
        "__range_s": str(whole_range),
        "__range_ms": str(whole_range * 1000),
    }


def _all_selected(variable: Mapping[str, Any]) -> bool:
    current = variable.get("current") or {}
    value = current.get("value")
    values = value if isinstance(value, list) else [value]
    return bool(variable.get("multi")) and "$__all" in values


def assignments(
    dashboard: Mapping[str, Any], prom: Prometheus, start: float, end: float
) -> Iterator[dict[str, str | list[str]]]:
    """Every set of variable values a user of ``dashboard`` can see, resolved from real labels.

    Raises:
        AssertionError: a query variable has no value at all in Prometheus.
    """
    by_name = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    base: dict[str, str | list[str]] = {**builtins(end - start), "datasource": "prometheus"}
    variables = list(iter_variable_queries(dashboard))

    def resolve(index: int, given: dict[str, str | list[str]]) -> Iterator[dict[str, Any]]:
        if index == len(variables):
            yield given
            return
        name, selector, label = variables[index]
        values = prom.api(
            f"label/{label}/values",
            **{
                "match[]": substitute_variables(selector, given),
                "start": f"{start:.3f}",
                "end": f"{end:.3f}",
            },
        )
        assert values, f"variable {name}: label_values({selector}, {label}) is empty"
        if _all_selected(by_name[name]):
            yield from resolve(index + 1, {**given, name: sorted(values)})
        else:
            for value in sorted(values):
                yield from resolve(index + 1, {**given, name: value})

    yield from resolve(0, base)


def describe(values: Mapping[str, Any]) -> str:
    """The dashboard's own variables of one assignment, for failure messages."""
    return (
        ", ".join(f"{k}={v}" for k, v in sorted(values.items()) if not k.startswith("__"))
        or "(no variables)"
    )
