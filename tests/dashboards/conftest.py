"""Hand-built SLO models for the dashboard tests (independent of the spec loaders)."""

from __future__ import annotations

import pytest

from obskit.slo import SLI, SLO, Alerting, Service, Source


def make_slo(
    service: str,
    name: str,
    objective: float,
    *,
    period_days: int = 30,
    page: bool = True,
    ticket: bool = True,
    description: str = "",
) -> SLO:
    """An availability-style SLO of ``service`` with the given objective and period."""
    sli = SLI(
        kind="availability",
        error_query='sum(rate(x{code=~"5.."}[{{.window}}]))',
        total_query="sum(rate(x[{{.window}}]))",
        description="5xx responses",
    )
    return SLO(
        service=service,
        name=name,
        objective=objective,
        period_days=period_days,
        sli=sli,
        alerting=Alerting(
            name=f"{service}-{name}", page=page, ticket=ticket, runbook_url="https://runbooks/x"
        ),
        source=Source(f"slo/{service}.yaml", 3),
        description=description,
    )


def make_service(name: str, *slos: SLO, selector: bool = True) -> Service:
    """A service with ``slos`` selected by ``job="<name>"`` (or no selector)."""
    return Service(
        name=name,
        slos=slos,
        source=Source(f"slo/{name}.yaml"),
        selector=(("job", name),) if selector else (),
    )


@pytest.fixture
def checkout() -> Service:
    """A realistic service: a 30-day availability SLO and a 28-day latency SLO."""
    return make_service(
        "checkout",
        make_slo("checkout", "availability", 99.9, description="Orders <b>go</b> through"),
        make_slo("checkout", "latency", 99.0, period_days=28),
    )


@pytest.fixture
def services(checkout: Service) -> list[Service]:
    """Three services, one without a selector (raw-query SLOs only)."""
    return [
        checkout,
        make_service("payments", make_slo("payments", "availability", 99.95)),
        make_service("legacy-batch", make_slo("legacy-batch", "ratio", 95.0), selector=False),
    ]
