"""The internal SLO model: what every input format is parsed into, and what rule generation and
dashboards read.  Plain frozen dataclasses, no I/O, no YAML: the user-facing specs (native,
Sloth, OpenSLO) are translated into these by the spec loaders, then rules and dashboards are
generated from these alone (the Sloth design: spec → model → generation → output).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

#: The window placeholder in query templates; Sloth's spelling, accepted in every format.
WINDOW_PLACEHOLDER: Final = "{{.window}}"

SLIKind = Literal["availability", "latency", "operation", "ratio", "raw"]
Severity = Literal["page", "ticket"]
#: ``windows``: one alert per window pair (obskit's own shape); ``sloth``: one alert per
#: severity covering both of its window pairs, labelled and annotated like Sloth's.
AlertShape = Literal["windows", "sloth"]
ALERT_SHAPES: Final[tuple[AlertShape, ...]] = ("windows", "sloth")


@dataclass(frozen=True)
class Source:
    """Where a model object came from, for error messages and generated-file headers."""

    path: str
    line: int = 0


@dataclass(frozen=True)
class SLI:
    """An SLI as PromQL templates over :data:`WINDOW_PLACEHOLDER`.

    Exactly one of these holds:

    * ``error_query`` and ``total_query`` are set (event-based: errors and total rates over a
      window) — every native kind, Sloth ``events`` and OpenSLO ``ratioMetric`` end up here;
    * ``error_ratio_query`` is set (Sloth ``raw``: the ratio itself, no event counts).
    """

    kind: SLIKind
    error_query: str | None = None
    total_query: str | None = None
    error_ratio_query: str | None = None
    #: Human text for dashboards: what counts as an error (e.g. "5xx responses").
    description: str = ""
    #: Labels the SLO is evaluated separately for (Pyrra's ``grouping``, the native
    #: ``group_by``): the templates already aggregate ``sum by`` them, and every recorded series
    #: and alert of the SLO carries them — one SLI per value combination.  Empty: one SLI.
    group_by: tuple[str, ...] = ()

    def render(self, template: str, window: str) -> str:
        """Fill ``window`` (e.g. ``"5m"``) into one of this SLI's templates."""
        return template.replace(WINDOW_PLACEHOLDER, window)


@dataclass(frozen=True)
class AlertTier:
    """One multi-window burn-rate alert tier (SRE Workbook), already scaled to the SLO period."""

    #: Short stable name of the tier, e.g. ``page-1h`` — also the alert's tier label.
    name: str
    severity: Severity
    long_window: str
    short_window: str
    #: Budget share consumed over ``long_window`` at ``burn_rate`` (0.02, 0.05, 0.1, 0.1).
    budget_consumed: float
    #: Burn rate threshold: ``budget_consumed * period / long_window``.
    burn_rate: float


#: (severity, long window, short window, budget consumed): the Workbook's four tiers.  The burn
#: rate follows from the period, so a 28-day SLO keeps the budget shares and windows.
WORKBOOK_TIERS: Final[tuple[tuple[Severity, str, str, float], ...]] = (
    ("page", "1h", "5m", 0.02),
    ("page", "6h", "30m", 0.05),
    ("ticket", "1d", "2h", 0.10),
    ("ticket", "3d", "6h", 0.10),
)


@functools.cache  # a pure function of the period, read for every SLO by every step
def tiers_for_period(period_days: int) -> tuple[AlertTier, ...]:
    """The four Workbook tiers with burn rates rescaled to a period of ``period_days`` days.

    For 30 days this gives 14.4, 6, 3 and 1; for 28 days 13.44, 5.6, 2.8 and 0.9333….
    """
    from obskit.conventions import window_seconds

    period_s = period_days * 86400
    return tuple(
        AlertTier(
            name=f"{severity}-{long}",
            severity=severity,
            long_window=long,
            short_window=short,
            budget_consumed=consumed,
            burn_rate=consumed * period_s / window_seconds(long),
        )
        for severity, long, short, consumed in WORKBOOK_TIERS
    )


@dataclass(frozen=True)
class Alerting:
    """Per-SLO alerting options."""

    #: The ``alertname`` of every alert of this SLO (Sloth's ``alerting.name`` is kept as is).
    name: str
    page: bool = True
    ticket: bool = True
    #: Labels on every alert of this SLO (e.g. ``team``), then per severity.
    labels: Mapping[str, str] = field(default_factory=dict)
    page_labels: Mapping[str, str] = field(default_factory=dict)
    ticket_labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    page_annotations: Mapping[str, str] = field(default_factory=dict)
    ticket_annotations: Mapping[str, str] = field(default_factory=dict)
    runbook_url: str | None = None
    #: ``for:`` durations (Prometheus duration strings); empty string means no ``for:``.
    page_for: str = "2m"
    ticket_for: str = "15m"
    #: Minimum-traffic guard: no alert fires while the tier's long window saw fewer events
    #: than this.  0 disables the guard.
    min_events: float = 0.0
    #: How the tiers become alerts (see :data:`AlertShape`); Sloth input defaults to ``sloth``.
    shape: AlertShape = "windows"


@dataclass(frozen=True)
class Policy:
    """An error-budget policy: when ``obskit slo gate`` blocks (freezes) or warns.

    A service-level policy applies to each of its SLOs; an SLO's own policy replaces the keys it
    sets.  Budget thresholds are shares of the period's budget still unspent (the recorded
    budget-remaining ratio): 1 untouched, 0 spent, below 0 overspent.
    """

    #: Block while the budget remaining is below this share (0 blocks only once overspent).
    freeze_below: float | None = None
    #: Warn (never block) while the budget remaining is below this share.
    warn_below: float | None = None
    #: Block while an alert tier fires: severities (``page``, ``ticket``) or tier names
    #: (``page-1h`` …).
    freeze_while_firing: tuple[str, ...] = ()
    #: Where the policy (or, merged, the SLO's policy) was written, for the gate's messages.
    source: Source | None = None

    @property
    def empty(self) -> bool:
        """Whether the policy asks for nothing."""
        return (
            self.freeze_below is None and self.warn_below is None and not self.freeze_while_firing
        )


@dataclass(frozen=True)
class SLO:
    """One service-level objective, format-independent."""

    service: str
    name: str
    #: Objective in percent, strictly between 0 and 100 (99.9 means 99.9 %).
    objective: float
    period_days: int
    sli: SLI
    alerting: Alerting
    source: Source
    description: str = ""
    #: Labels added to every recorded series and alert of this SLO.
    labels: Mapping[str, str] = field(default_factory=dict)
    #: The error-budget policy in force (service policy merged with the SLO's), if any.
    policy: Policy | None = None
    #: What the loader assumed or left out (e.g. a default time window), for the file header.
    notes: tuple[str, ...] = ()
    #: The input format (``native``, ``sloth``, ``openslo``): Sloth's SLOs keep Sloth's labels
    #: on their recorded series whatever the alert shape, so switching it keeps their history.
    origin: str = "native"

    @property
    def id(self) -> str:
        """``<service>-<slo>``, unique across a build."""
        return f"{self.service}-{self.name}"

    @property
    def objective_ratio(self) -> float:
        """The objective as a ratio: 99.9 → 0.999."""
        return self.objective / 100.0

    @property
    def error_budget(self) -> float:
        """The error budget as a ratio: 99.9 → 0.001 (computed to avoid float noise)."""
        return round(1.0 - self.objective / 100.0, 12)

    @property
    def period(self) -> str:
        """The period as a Prometheus duration, e.g. ``"30d"``."""
        return f"{self.period_days}d"

    @property
    def tiers(self) -> tuple[AlertTier, ...]:
        """This SLO's four alert tiers, scaled to its period."""
        return tiers_for_period(self.period_days)


@dataclass(frozen=True)
class Service:
    """A service and its SLOs: one rule file and one dashboard per service."""

    name: str
    slos: tuple[SLO, ...]
    source: Source
    #: Label matchers selecting the service's own series, e.g. ``(("job", "checkout"),)``
    #: — the Prometheus convention is the scrape job named after the service.
    selector: tuple[tuple[str, str], ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    def selector_promql(self) -> str:
        """The selector as PromQL matchers, e.g. ``job="checkout"`` (values already validated)."""
        return ",".join(f'{k}="{v}"' for k, v in self.selector)
