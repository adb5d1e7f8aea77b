"""Grafana dashboards generated from SLO specs, and their import paths.

Public helpers for tests and tooling: :func:`lint` checks a dashboard's structure,
:func:`iter_queries` lists its PromQL queries and :func:`substitute_variables` fills Grafana's
variables in as Grafana would, so every query can be parsed or run against a real Prometheus.
"""

from obskit.dashboards._build import DashboardOptions, render
from obskit.dashboards._fleet import fleet_dashboard
from obskit.dashboards._generic import generic_dashboard
from obskit.dashboards._ids import service_uid
from obskit.dashboards._lint import lint
from obskit.dashboards._queries import (
    iter_queries,
    iter_variable_queries,
    metric_names,
    substitute_variables,
)
from obskit.dashboards._service import service_dashboard

__all__ = [
    "DashboardOptions",
    "fleet_dashboard",
    "generic_dashboard",
    "iter_queries",
    "iter_variable_queries",
    "lint",
    "metric_names",
    "render",
    "service_dashboard",
    "service_uid",
    "substitute_variables",
]
