"""``obskit slo explain`` output: a plain-text table, JSON (``schema_version``), Markdown.

The JSON shape is documented field by field in ``docs/slo-explain.md``; bump
:data:`~obskit.slo._explain.SCHEMA_VERSION` on any incompatible change.  The text table has no
colour at all, so it reads the same on a terminal, in a pipe and in a CI log.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from obskit.slo._explain import (
    SCHEMA_VERSION,
    Outcome,
    SLOExplanation,
    TierExplanation,
    Timing,
    explained_ratios,
)
from obskit.slo._rules import fmt_number

__all__ = ["FORMATS", "render"]

FORMATS: Final = ("text", "json", "markdown")

_HEADER: Final = (
    "tier",
    "severity",
    "windows",
    "burn rate",
    "fires above",
    "for",
    "guard needs",
    "error ratio",
    "fires after",
    "budget spent",
    "resolves after",
    "shortest that fires",
)
_NEVER: Final = {
    "below_threshold": "never: below threshold",
    "low_traffic": "never: low-traffic guard",
}


def duration(seconds: float) -> str:
    """``2592`` → ``43m12s``, ``2760`` → ``46m``, ``93600`` → ``1d2h``; exact to the second."""
    if seconds == 0:
        return "0s"
    rest = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) if parts else f"{seconds:g}s"


def percent(ratio: float) -> str:
    """A ratio as a percentage with three significant digits: 0.0144 → ``1.44%``."""
    return format(ratio * 100, ".3g") + "%"


def _burn(rate: float) -> str:
    return fmt_number(round(rate, 4)) + "x"


def _rate(per_second: float) -> str:
    return format(per_second, ".3g") + " req/s" if per_second else "-"


def _cells(outcome: Outcome) -> tuple[str, str, str, str]:
    if outcome.never is not None:
        return (_NEVER[outcome.never], "-", "-", "-")
    assert outcome.fires_after is not None
    assert outcome.budget_spent_at_fire is not None
    assert outcome.resolves_after is not None
    assert outcome.shortest_incident is not None
    return (
        duration(outcome.fires_after),
        percent(outcome.budget_spent_at_fire),
        duration(outcome.resolves_after),
        duration(outcome.shortest_incident),
    )


def _rows(explanation: SLOExplanation) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for t in explanation.tiers:
        tier = t.tier
        first: tuple[str, ...] = (
            tier.name,
            tier.severity,
            f"{tier.long_window}/{tier.short_window}",
            _burn(tier.burn_rate),
            percent(t.threshold_ratio),
            duration(t.for_seconds) if t.for_seconds else "-",
            _rate(t.min_request_rate),
        )
        for index, outcome in enumerate(t.outcomes):
            lead = first if index == 0 else ("",) * len(first)
            rows.append((*lead, percent(outcome.error_ratio), *_cells(outcome)))
    return rows


def _title(e: SLOExplanation) -> str:
    slo = e.slo
    where = f"{slo.source.path}:{slo.source.line}" if slo.source.line else slo.source.path
    return f"{slo.service}/{slo.name}: {fmt_number(slo.objective)}% over {slo.period} ({where})"


def _budget_line(e: SLOExplanation) -> str:
    return (
        f"error budget {percent(e.slo.error_budget)} of requests = "
        f"{duration(e.budget_outage_seconds)} of total outage per {e.slo.period}"
    )


def _guard_line(e: SLOExplanation, rps: float | None) -> str:
    if not e.guarded:
        if e.slo.alerting.min_events > 0:
            return "low-traffic guard: not applicable (raw-ratio SLI, no event counts)"
        return "low-traffic guard: none (min_events not set)"
    traffic = (
        f"assuming a steady {rps:g} req/s"
        if rps is not None
        else "figures assume steady traffic at least at the rate each tier's guard needs"
    )
    return f"low-traffic guard: min_events {fmt_number(e.slo.alerting.min_events)}; {traffic}"


def _assumptions(timing: Timing) -> list[str]:
    return [
        "Assumptions: steady traffic and a clean history longer than every window; the error "
        "ratio jumps from 0 to the given value at time 0 and back to 0 when the errors stop.",
        f"Rules evaluated every {duration(timing.evaluation_interval)}, scrapes every "
        f"{duration(timing.scrape_interval)}, aligned, Prometheus {timing.prometheus_major} "
        "range semantics. 'fires after': from the first erroring scrape to the first "
        "evaluation at which the alert is firing, `for:` included (it counts from the first "
        "evaluation where the expression is true). 'budget spent': share of the period's "
        "budget spent by then. 'resolves after': from the last erroring scrape to the first "
        "evaluation at which it is no longer firing (`for:` never delays resolution), "
        "assuming the errors lasted 5 minutes past its firing. 'shortest that fires': the "
        "shortest run of "
        "errors after which it still fires (`for:` keeps counting after they stop).",
    ]


def _table(header: Sequence[str], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [tuple(header), *rows]) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [tuple(h.upper() for h in header), *rows]
    ]


def render_text(explanations: Sequence[SLOExplanation], timing: Timing, rps: float | None) -> str:
    """The plain-text report: per SLO a title, the budget, the guard, then the tier table."""
    lines: list[str] = []
    for e in explanations:
        lines += [_title(e), "  " + _budget_line(e), "  " + _guard_line(e, rps), ""]
        if e.tiers:
            lines += ["  " + line for line in _table(_HEADER, _rows(e))]
        else:
            lines.append("  no alert tiers (page: false and ticket: false)")
        lines.append("")
    lines += _assumptions(timing)
    return "\n".join(lines) + "\n"


def render_markdown(
    explanations: Sequence[SLOExplanation], timing: Timing, rps: float | None
) -> str:
    """A Markdown report (CI job summaries, pull-request comments): one table per SLO."""
    lines: list[str] = []
    for e in explanations:
        lines += [f"### {_title(e)}", "", f"- {_budget_line(e)}", f"- {_guard_line(e, rps)}", ""]
        if e.tiers:
            lines.append("| " + " | ".join(_HEADER) + " |")
            lines.append("|" + "---|" * len(_HEADER))
            lines += ["| " + " | ".join(row) + " |" for row in _rows(e)]
        else:
            lines.append("No alert tiers (`page: false` and `ticket: false`).")
        lines.append("")
    lines += [" ".join(_assumptions(timing))]
    return "\n".join(lines) + "\n"


def _outcome_json(o: Outcome) -> dict[str, Any]:
    return {
        "error_ratio": o.error_ratio,
        "fires": o.never is None,
        "never": o.never,
        "condition_true_after_seconds": o.condition_after,
        "fires_after_seconds": o.fires_after,
        "budget_spent_at_fire": o.budget_spent_at_fire,
        "resolves_after_seconds": o.resolves_after,
        "shortest_incident_seconds": o.shortest_incident,
    }


def _tier_json(t: TierExplanation, period_seconds: float) -> dict[str, Any]:
    tier = t.tier
    return {
        "name": tier.name,
        "severity": tier.severity,
        "long_window": tier.long_window,
        "short_window": tier.short_window,
        "burn_rate": tier.burn_rate,
        "threshold_error_ratio": t.threshold_ratio,
        "budget_spent_in_long_window": tier.budget_consumed,
        "budget_lasts_seconds": period_seconds / tier.burn_rate,
        "for_seconds": t.for_seconds,
        "min_events": t.min_events,
        "min_requests_per_second": t.min_request_rate,
        "outcomes": [_outcome_json(o) for o in t.outcomes],
    }


def render_json(
    explanations: Sequence[SLOExplanation],
    timing: Timing,
    rps: float | None,
    error_ratios: Sequence[float],
) -> str:
    """The versioned JSON document (``schema_version``; fields in ``docs/slo-explain.md``)."""
    slos = []
    for e in explanations:
        slo = e.slo
        period_seconds = slo.period_days * 86400
        slos.append({
            "service": slo.service,
            "slo": slo.name,
            "id": slo.id,
            "source": {"path": slo.source.path, "line": slo.source.line},
            "sli_kind": slo.sli.kind,
            "objective_percent": slo.objective,
            "error_budget_ratio": slo.error_budget,
            "period": slo.period,
            "period_seconds": period_seconds,
            "budget_outage_seconds": e.budget_outage_seconds,
            "low_traffic_guard": e.guarded,
            "tiers": [_tier_json(t, period_seconds) for t in e.tiers],
        })  # fmt: skip
    doc = {
        "schema_version": SCHEMA_VERSION,
        "timing": {
            "evaluation_interval_seconds": timing.evaluation_interval,
            "scrape_interval_seconds": timing.scrape_interval,
            "prometheus_major": timing.prometheus_major,
        },
        "requests_per_second": rps,
        "error_ratios": list(explained_ratios(error_ratios)),
        "slos": slos,
    }
    return json.dumps(doc, indent=2) + "\n"


def render(
    fmt: str,
    explanations: Sequence[SLOExplanation],
    timing: Timing,
    rps: float | None,
    error_ratios: Sequence[float],
) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return render_json(explanations, timing, rps, error_ratios)
    if fmt == "markdown":
        return render_markdown(explanations, timing, rps)
    return render_text(explanations, timing, rps)
