"""RED panels (rate, errors, duration) over the runtime's HTTP histogram.

Shared by the per-service dashboards (selector from the spec, e.g. ``job="checkout"``) and the
generic service dashboard (selector ``job="$job"``).  Every rate is over ``$__rate_interval``
so it stays correct at any zoom level and scrape interval.
"""

from __future__ import annotations

from typing import Final

from obskit import conventions as c
from obskit.dashboards import _panels as p

ROUTE_VARIABLE: Final = "route"
#: Grafana renders a multi-value variable as an escaped RE2 alternation with ``:regex``.
ROUTE_MATCHER: Final = f'{c.LABEL_ROUTE}=~"${{{ROUTE_VARIABLE}:regex}}"'
QUANTILES: Final = (0.5, 0.9, 0.99)


def matchers(*parts: str) -> str:
    """Join non-empty label matchers into a PromQL selector body."""
    return ", ".join(part for part in parts if part)


def rate_by(metric: str, selector: str, by: str) -> str:
    """``sum by (<by>) (rate(<metric>{<selector>}[$__rate_interval]))`` (plain ``sum`` when
    ``by`` is empty)."""
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(rate({metric}{{{selector}}}[$__rate_interval]))"


def error_ratio_by(selector: str, by: str) -> str:
    """Share of 5xx responses among all responses, per ``by``."""
    return ratio_or_zero(
        rate_by(c.HTTP_DURATION_COUNT, matchers(selector, f'{c.LABEL_STATUS}=~"5.."'), by),
        rate_by(c.HTTP_DURATION_COUNT, selector, by),
    )


def ratio_or_zero(errors: str, total: str) -> str:
    """``errors / total``, reading 0 (not "no data") for groups that never had an error: an
    error series only exists once the first error happened, and a healthy route must show 0 %.
    """
    return f"(\n{errors}\nor\n0 * {total}\n)\n/\n{total}"


def quantile_by(q: float, selector: str, by: str) -> str:
    """``histogram_quantile`` of the request duration over ``$__rate_interval``, per ``by``."""
    by_le = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, {rate_by(c.HTTP_DURATION_BUCKET, selector, by_le)})"


def route_variable(selector: str) -> p.Json:
    """A multi-value ``route`` variable listing the routes the selected service served."""
    query = f"label_values({c.HTTP_DURATION_COUNT}{{{selector}}}, {c.LABEL_ROUTE})"
    return {
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "datasource": p.ds(),
        "definition": query,
        "hide": 0,
        "includeAll": True,
        "label": "Route",
        "multi": True,
        "name": ROUTE_VARIABLE,
        "options": [],
        "query": query,
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
        "type": "query",
    }


def add_red_panels(grid: p.Grid, selector: str) -> None:
    """Request rate, error ratio and latency quantiles by route, for ``selector``'s service."""
    sel = matchers(selector, ROUTE_MATCHER)
    route = c.LABEL_ROUTE
    grid.add(
        p.timeseries(
            "Request rate by route",
            "Requests per second the service answered, per route template (the route the "
            "framework matched, never the raw path). A sudden drop to zero usually means the "
            "service or its scrape target is down; compare with the error ratio next to it.",
            [p.target(rate_by(c.HTTP_DURATION_COUNT, sel, route), 0, legend=f"{{{{{route}}}}}")],
            unit="reqps",
            min_value=0,
        ),
        w=12,
        h=8,
    )
    grid.add(
        p.timeseries(
            "Error ratio by route (5xx)",
            "Share of responses with a 5xx status, per route. 4xx responses are the client's "
            "fault and are not counted. A route stuck above a few percent is where to look "
            "first: open its latency below and the traces behind its exemplars.",
            [p.target(error_ratio_by(sel, route), 0, legend=f"{{{{{route}}}}}")],
            unit="percentunit",
            min_value=0,
        ),
        w=12,
        h=8,
    )
    grid.add(
        p.timeseries(
            "Latency by route (p50 / p90 / p99)",
            "Request duration quantiles per route, estimated from the histogram buckets "
            "(accurate to the bucket boundaries). The dots are exemplars: click one to open "
            "the trace of a real request of that duration (set the trace data source on the "
            "Prometheus data source's exemplar settings, label trace_id). p99 far above p50 "
            "means a slow minority, often one dependency or a lock.",
            [
                p.target(
                    quantile_by(q, sel, route),
                    i,
                    legend=f"p{round(q * 100)} {{{{{route}}}}}",
                    exemplar=True,
                )
                for i, q in enumerate(QUANTILES)
            ],
            unit="s",
            min_value=0,
        ),
        w=24,
        h=10,
    )
