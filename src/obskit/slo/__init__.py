"""The SLO compiler: SLO specs (native, Sloth, OpenSLO) → Prometheus rules (and dashboards)."""

from obskit.slo._explain import explain_services, explain_slo
from obskit.slo._model import SLI, SLO, Alerting, AlertTier, Service, Source, tiers_for_period

__all__ = [
    "SLI",
    "SLO",
    "AlertTier",
    "Alerting",
    "Service",
    "Source",
    "explain_services",
    "explain_slo",
    "tiers_for_period",
]
