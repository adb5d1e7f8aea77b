"""Model objects for the rule-generator tests, built directly (independent of the loaders)."""

from __future__ import annotations

from obskit import conventions as c
from obskit.slo import SLI, SLO, Alerting, Service, Source

#: Synthetic counters of the promtool scenarios: one request counter, one error counter.
REQUESTS = "test_requests_total"
ERRORS = "test_errors_total"


def events_sli(job: str) -> SLI:
    """An event SLI over the scenario counters of one ``job`` (one series each)."""
    return SLI(
        kind="ratio",
        error_query=f'sum(rate({ERRORS}{{job="{job}"}}[{{{{.window}}}}]))',
        total_query=f'sum(rate({REQUESTS}{{job="{job}"}}[{{{{.window}}}}]))',
    )


def http_availability_sli(service: str) -> SLI:
    """What the native availability kind produces: 5xx over all requests of the service."""
    sel = f'job="{service}"'
    return SLI(
        kind="availability",
        error_query=(
            f'sum(rate({c.HTTP_DURATION_COUNT}{{{sel},{c.LABEL_STATUS}=~"5.."}}[{{{{.window}}}}]))'
        ),
        total_query=f"sum(rate({c.HTTP_DURATION_COUNT}{{{sel}}}[{{{{.window}}}}]))",
        description="5xx responses",
    )


def raw_sli(job: str) -> SLI:
    """A raw error-ratio SLI (Sloth ``raw``) over the scenario counters."""
    return SLI(
        kind="raw",
        error_ratio_query=(
            f'sum(rate({ERRORS}{{job="{job}"}}[{{{{.window}}}}]))'
            f' / sum(rate({REQUESTS}{{job="{job}"}}[{{{{.window}}}}]))'
        ),
    )


def slo(
    service: str,
    name: str,
    sli: SLI,
    *,
    objective: float = 99.9,
    period_days: int = 30,
    line: int = 1,
    labels: dict[str, str] | None = None,
    alert_name: str = "",
    labels_: dict[str, str] | None = None,
    **alerting: object,
) -> SLO:
    """An SLO; ``labels_`` are the alerting labels, other keywords go to :class:`Alerting`."""
    options: dict[str, object] = {
        "name": alert_name or f"{service}-{name}-burn".replace("-", "_"),
        "labels": labels_ or {},
        **alerting,
    }
    return SLO(
        service=service,
        name=name,
        objective=objective,
        period_days=period_days,
        sli=sli,
        alerting=Alerting(**options),  # type: ignore[arg-type]
        source=Source(f"slo/{service}.yaml", line),
        labels=labels or {},
    )


def service(name: str, *slos: SLO, labels: dict[str, str] | None = None) -> Service:
    """A service holding ``slos``."""
    return Service(
        name=name,
        slos=slos,
        source=Source(f"slo/{name}.yaml", 1),
        selector=(("job", name),),
        labels=labels or {},
    )
