"""The SLO compiler: SLO specs (native, Sloth, OpenSLO, Pyrra) → Prometheus rules and dashboards.

The public steps are :func:`load` → :func:`build` → :func:`write` (or :func:`drift`), the same
ones ``obskit slo build`` runs; :func:`explain_slo` / :func:`explain_services` compute when the
generated alerts fire. The model (:class:`Service`, :class:`SLO`, …) is frozen dataclasses.
"""

from typing import TYPE_CHECKING, Any

from obskit.slo._api import build, drift, load, rule_groups, write
from obskit.slo._errors import SpecError, SpecErrors
from obskit.slo._explain import explain_services, explain_slo
from obskit.slo._model import SLI, SLO, Alerting, AlertTier, Service, Source, tiers_for_period
from obskit.slo._output import OutputError
from obskit.slo._rules import Rule, RuleGroup

if TYPE_CHECKING:
    from obskit.dashboards._build import DashboardOptions


def __getattr__(name: str) -> Any:
    # obskit.dashboards imports the model from this package: importing it here eagerly is a
    # cycle, so DashboardOptions resolves on first use.
    if name == "DashboardOptions":
        from obskit.dashboards._build import DashboardOptions

        return DashboardOptions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SLI",
    "SLO",
    "AlertTier",
    "Alerting",
    "DashboardOptions",
    "OutputError",
    "Rule",
    "RuleGroup",
    "Service",
    "Source",
    "SpecError",
    "SpecErrors",
    "build",
    "drift",
    "explain_services",
    "explain_slo",
    "load",
    "rule_groups",
    "tiers_for_period",
    "write",
]
