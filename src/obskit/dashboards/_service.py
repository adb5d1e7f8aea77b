"""The dashboard generated for one service of the SLO specs.

One collapsible row per SLO (SLI against objective, error budget remaining, burn rate per alert
window with the tier thresholds drawn, budget consumed), then the service's RED panels.  Every
SLO figure is read from the recording rules ``obskit slo build`` writes, as recorded: no range
over raw series spanning the period, no ``rate()`` over a recorded ratio.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Final

from obskit import conventions as c
from obskit.dashboards import _panels as p
from obskit.dashboards._ids import promql_string, service_uid
from obskit.dashboards._red import add_red_panels, route_variable
from obskit.slo._model import SLO, Service

#: Colours of the tier thresholds, from the fastest page to the slowest ticket.
_TIER_COLOURS: Final = ("dark-red", "red", "orange", "yellow")
#: The window of the "current burn rate" figures: the long window of the fastest page tier.
CURRENT_BURN_WINDOW: Final = "1h"
SLI_WINDOWS: Final = ("5m", "1h")


def slo_selector(slo: SLO) -> str:
    """Matchers selecting one SLO's recorded series."""
    return (
        f"{c.SLO_LABEL_SERVICE}={promql_string(slo.service)}, "
        f"{c.SLO_LABEL_SLO}={promql_string(slo.name)}"
    )


def escape_markdown(value: str) -> str:
    """User text safe inside Grafana markdown: no raw HTML, no table-cell breaks."""
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\n", " ")
    )


def percent_decimals(objective: float) -> int:
    """Decimals that show an SLI one digit finer than its objective (99.95 → 3)."""
    text = f"{objective:g}"
    fraction = len(text.split(".")[1]) if "." in text else 0
    return min(4, max(2, fraction + 1))


def burn_thresholds(slo: SLO) -> p.Json:
    """Threshold steps at each enabled alert tier's burn rate (drawn as dashed lines)."""
    steps: list[tuple[float, str]] = []
    for tier, colour in zip(slo.tiers, _TIER_COLOURS, strict=True):
        enabled = slo.alerting.page if tier.severity == "page" else slo.alerting.ticket
        if enabled:
            steps.append((round(tier.burn_rate, 4), colour))
    return p.thresholds("green", *sorted(steps))


def _worst(slo: SLO, agg: str, expr: str) -> str:
    """``expr`` as one figure: for a grouped SLO (one series per group) the worst group's."""
    return f"{agg}({expr})" if slo.sli.group_by else expr


def _groups(slo: SLO) -> str:
    """``http_route`` / ``handler, method``: the grouping labels, for panel text."""
    return ", ".join(slo.sli.group_by)


def _legend(slo: SLO, text: str) -> str:
    """A legend naming the group of each series (``{{http_route}}``) for a grouped SLO."""
    if not slo.sli.group_by:
        return text
    return " ".join(f"{{{{{name}}}}}" for name in slo.sli.group_by)


def _about(slo: SLO) -> str:
    """Markdown: what the SLO promises, what counts as an error, and when it alerts."""
    budget = f"{slo.error_budget * 100:.6g}"
    lines = [
        f"**Objective:** {slo.objective:g} % over {slo.period_days} days "
        f"(error budget {budget} %).",
        "",
    ]
    if slo.description:
        lines += [escape_markdown(slo.description), ""]
    if slo.sli.description:
        lines += [f"**Errors:** {escape_markdown(slo.sli.description)}", ""]
    if slo.sli.group_by:
        lines += [
            f"**Grouped by** `{escape_markdown(_groups(slo))}`: each value has its own SLI, "
            "budget and alerts. The figures on the right are the worst group's; the graphs "
            "below draw one line per group.",
            "",
        ]
    lines += [
        f"**Alerts** (`{escape_markdown(slo.alerting.name)}`) fire when the burn rate over both "
        "windows exceeds the threshold:",
        "",
        "| severity | windows | burn rate | budget spent |",
        "|---|---|---|---|",
    ]
    for tier in slo.tiers:
        enabled = slo.alerting.page if tier.severity == "page" else slo.alerting.ticket
        if enabled:
            lines.append(
                f"| {tier.severity} | {tier.long_window} and {tier.short_window} "
                f"| {tier.burn_rate:.4g}x | {tier.budget_consumed * 100:g} % |"
            )
    if slo.alerting.runbook_url:
        lines += ["", f"**Runbook:** <{escape_markdown(slo.alerting.runbook_url)}>"]
    return "\n".join(lines)


def _add_slo(grid: p.Grid, slo: SLO, *, collapsed: bool) -> None:
    sel = slo_selector(slo)
    ratio_decimals = percent_decimals(slo.objective)
    burn = burn_thresholds(slo)
    period = slo.period
    worst = f" (worst {_groups(slo)})" if slo.sli.group_by else ""
    grid.row(p.row(f"SLO {slo.name}: {slo.objective:g} % over {period}", collapsed=collapsed))
    grid.add(p.text(f"About {slo.name}", _about(slo)), w=6, h=7)
    grid.add(
        p.stat(
            f"SLI over {period}{worst}",
            f"Share of good events over the last {period} (traffic-weighted: all errors of the "
            f"period divided by all requests of the period). Red below the objective "
            f"({slo.objective:g} %): the SLO is missed for this period.",
            f"1 - {_worst(slo, 'max', f'{c.RULE_PERIOD_ERROR_RATIO}{{{sel}}}')}",
            unit="percentunit",
            decimals=ratio_decimals,
            threshold_steps=p.thresholds("red", (slo.objective_ratio, "green")),
        ),
        w=6,
        h=7,
    )
    grid.add(
        p.stat(
            f"Error budget remaining{worst}",
            f"Share of the {period} error budget still unspent: 100 % untouched, 0 % spent, "
            "negative overspent. Below 25 % consider freezing risky releases and spending the "
            "time on reliability; below 0 the objective is already missed for this period.",
            _worst(slo, "min", f"{c.RULE_ERROR_BUDGET_REMAINING}{{{sel}}}"),
            unit="percentunit",
            decimals=1,
            threshold_steps=p.thresholds("red", (0.25, "orange"), (0.5, "green")),
        ),
        w=6,
        h=7,
    )
    grid.add(
        p.stat(
            f"Burn rate ({CURRENT_BURN_WINDOW}){worst}",
            f"How fast the budget burns now, over the last {CURRENT_BURN_WINDOW}: 1 spends "
            f"exactly the budget over {period}, {round(slo.tiers[0].burn_rate, 4):g} spends 2 % "
            "of it in an hour (the fast page). Colours mark the alert tiers' thresholds.",
            _worst(
                slo,
                "max",
                f'{c.RULE_BURN_RATE}{{{sel}, {c.SLO_LABEL_WINDOW}="{CURRENT_BURN_WINDOW}"}}',
            ),
            unit="suffix:x",
            decimals=2,
            threshold_steps=burn,
        ),
        w=6,
        h=7,
    )
    # A grouped SLO draws the 1h SLI of each group (both windows of every group would be
    # twice as many lines as groups); an ungrouped one the 5m and the 1h SLI.
    windows = SLI_WINDOWS[-1:] if slo.sli.group_by else SLI_WINDOWS
    sli_targets = [
        p.target(
            f"1 - {c.error_ratio_rule(window)}{{{sel}}}",
            i,
            legend=_legend(slo, f"SLI ({window})"),
        )
        for i, window in enumerate(windows)
    ]
    sli_targets.append(
        p.target(f"{c.RULE_OBJECTIVE}{{{sel}}}", len(sli_targets), legend="objective")
    )
    grid.add(
        p.timeseries(
            "SLI vs objective",
            (
                f"Share of good events over the last hour in each {_groups(slo)} group"
                if slo.sli.group_by
                else "Share of good events over the last 5 minutes and the last hour"
            )
            + ", against the objective. Dips below the objective line spend error budget; a "
            "short dip is fine, a long one shows up in the burn rate next to it. Gaps mean no "
            "traffic.",
            sli_targets,
            unit="percentunit",
            decimals=ratio_decimals,
        ),
        w=8,
        h=8,
    )
    grid.add(
        p.timeseries(
            "Burn rate per alert window",
            "Error ratio divided by the error budget, over each window the alerts use. A tier "
            "fires when both its long and its short window are above its threshold (dashed "
            "lines): see the table in 'About' for the pairs. A high short window alone is a "
            "blip; a high long window alone is an incident that already ended."
            + (f" Each window shows its highest {_groups(slo)} group." if slo.sli.group_by else ""),
            [
                p.target(
                    _worst(slo, f"max by ({c.SLO_LABEL_WINDOW}) ", f"{c.RULE_BURN_RATE}{{{sel}}}"),
                    0,
                    legend=f"{{{{{c.SLO_LABEL_WINDOW}}}}}",
                )
            ],
            unit="suffix:x",
            threshold_steps=burn,
            threshold_style="dashed",
            min_value=0,
        ),
        w=8,
        h=8,
    )
    grid.add(
        p.timeseries(
            f"Error budget consumed over {period}",
            f"Share of the error budget spent over the rolling {period}. At 100 % (the red "
            "line) the objective is missed for the period. A steady climb means a constant "
            "error rate; a step means an incident: find it in the alert annotations.",
            [
                p.target(
                    f"1 - {c.RULE_ERROR_BUDGET_REMAINING}{{{sel}}}",
                    0,
                    legend=_legend(slo, "consumed"),
                )
            ],
            unit="percentunit",
            decimals=1,
            threshold_steps=p.thresholds("green", (1.0, "red")),
            threshold_style="line",
            min_value=0,
        ),
        w=8,
        h=8,
    )


def alerts_annotation(service: Service) -> p.Json:
    """Firing SLO alerts of ``service`` as annotations on every time-series panel."""
    expr = f'ALERTS{{alertstate="firing", {c.SLO_LABEL_SERVICE}={promql_string(service.name)}}}'
    return {
        "datasource": p.ds(),
        "enable": True,
        "expr": expr,
        "hide": False,
        "iconColor": "red",
        "name": "SLO alerts firing",
        "step": "1m",
        "tagKeys": f"{c.ALERT_LABEL_SEVERITY},{c.SLO_LABEL_SLO},{c.ALERT_LABEL_TIER}",
        # One-alert-per-window-pair alerts name their tier; Sloth-shaped alerts (one per
        # severity, both pairs ORed) carry only the short window of the pair that fired.  Each
        # alert has exactly one of the two labels, so the text reads right for both shapes.
        "textFormat": (
            f"{{{{{c.SLO_LABEL_SLO}}}}}: burn rate above threshold (window "
            f"{{{{{c.ALERT_LABEL_TIER}}}}}{{{{{c.SLOTH_LABEL_WINDOW}}}}})"
        ),
        "titleFormat": f"{{{{alertname}}}} ({{{{{c.ALERT_LABEL_SEVERITY}}}}})",
        "useValueForTime": False,
    }


def _source_name(service: Service) -> str:
    """The spec's path as given, or only its file name when absolute (machine-independent)."""
    path = PurePath(service.source.path)
    return path.name if path.is_absolute() else path.as_posix()


def service_dashboard(service: Service) -> p.Json:
    """The dashboard of ``service``: one row per SLO, then its RED panels."""
    grid = p.Grid()
    for index, slo in enumerate(service.slos):
        # The first SLO opens expanded; the others stay collapsed so the page loads fast.
        _add_slo(grid, slo, collapsed=index > 0)
    selector = service.selector_promql()
    variables: list[p.Json] = []
    if selector:
        grid.row(p.row(f"HTTP traffic ({selector})", collapsed=False))
        add_red_panels(grid, selector)
        variables.append(route_variable(selector))
    return p.dashboard(
        uid=service_uid(service.name),
        title=f"SLOs: {service.name}",
        description=(
            f"SLOs and RED metrics of {service.name}, generated by obskit from "
            f"{_source_name(service)}. Regenerate with `obskit slo build`; edits are overwritten."
        ),
        tags=["obskit", "slo", f"service:{service.name}"],
        grid=grid,
        variables=variables,
        annotations=[alerts_annotation(service)],
        time_from="now-7d",
    )
