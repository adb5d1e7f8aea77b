"""The fleet overview: every SLO of a build in one table, worst first.

One row per SLO with its objective, SLI over the period, error budget remaining and current burn
rate, each row linking to its service's dashboard.  Every figure is an instant read of a
recording rule, so the table stays cheap with hundreds of SLOs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from obskit import conventions as c
from obskit.dashboards import _panels as p
from obskit.dashboards._ids import (
    FLEET_UID,
    SERVICE_UID_PREFIX,
    promql_regex_alternatives,
    promql_string,
    service_uid,
)
from obskit.slo._model import Service

#: Hidden table column carrying each row's dashboard uid, for the row link.
UID_LABEL: Final = "obskit_dashboard_uid"
_BY: Final = f"{c.SLO_LABEL_SERVICE}, {c.SLO_LABEL_SLO}, {c.SLO_LABEL_ID}"
BURN_WINDOW: Final = "1h"

COLUMNS: Final = (
    # (refId, column title)
    ("A", "Objective"),
    ("B", "SLI (period)"),
    ("C", "Budget remaining"),
    ("D", f"Burn rate ({BURN_WINDOW})"),
    ("E", "Period"),
)


def _with_dashboard_uid(expr: str, services: Sequence[Service]) -> str:
    """Attach each series' dashboard uid as a label, computed in PromQL.

    Most uids are ``slo-<service>`` (one generic ``label_replace``); a service whose uid had to
    be hashed (long or unusual name) gets its own exact-match ``label_replace`` after it.
    """
    out = (
        f"label_replace({expr}, {promql_string(UID_LABEL)}, "
        f'"{SERVICE_UID_PREFIX}$1", {promql_string(c.SLO_LABEL_SERVICE)}, "(.*)")'
    )
    for service in services:
        uid = service_uid(service.name)
        if uid != SERVICE_UID_PREFIX + service.name:
            out = (
                f"label_replace({out}, {promql_string(UID_LABEL)}, {promql_string(uid)}, "
                f"{promql_string(c.SLO_LABEL_SERVICE)}, "
                f"{promql_regex_alternatives([service.name])})"
            )
    return out


def fleet_queries(services: Sequence[Service]) -> list[str]:
    """The five instant queries of the table, one per numeric column (see :data:`COLUMNS`)."""
    only = f"{c.SLO_LABEL_SERVICE}=~{promql_regex_alternatives(sorted({s.name for s in services}))}"
    raw = [
        f"max by ({_BY}) ({c.RULE_OBJECTIVE}{{{only}}})",
        f"1 - max by ({_BY}) ({c.RULE_PERIOD_ERROR_RATIO}{{{only}}})",
        # min: a grouped SLO (one series per group) shows its worst group, like every column.
        f"min by ({_BY}) ({c.RULE_ERROR_BUDGET_REMAINING}{{{only}}})",
        f'max by ({_BY}) ({c.RULE_BURN_RATE}{{{only}, {c.SLO_LABEL_WINDOW}="{BURN_WINDOW}"}})',
        f"max by ({_BY}) ({c.RULE_PERIOD_SECONDS}{{{only}}})",
    ]
    return [_with_dashboard_uid(expr, services) for expr in raw]


def _table(services: Sequence[Service]) -> p.Json:
    targets = [
        p.target(expr, i, instant=True, table=True)
        for i, expr in enumerate(fleet_queries(services))
    ]
    rename = {f"Value #{ref}": title for ref, title in COLUMNS}
    rename.update({c.SLO_LABEL_SERVICE: "Service", c.SLO_LABEL_SLO: "SLO"})
    order = ["Service", "SLO", *(title for _ref, title in COLUMNS)]
    transformations: list[p.Json] = [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {
                "excludeByName": {"Time": True, c.SLO_LABEL_ID: True},
                "indexByName": {
                    **{
                        source: order.index(target)
                        for source, target in rename.items()
                        if target in order
                    },
                    UID_LABEL: len(order),
                },
                "renameByName": rename,
            },
        },
        {
            "id": "sortBy",
            "options": {"fields": {}, "sort": [{"desc": False, "field": "Budget remaining"}]},
        },
    ]
    burn = p.thresholds("green", (1.0, "orange"), (6.0, "red"))
    overrides = [
        p.override("Objective", ("unit", "percentunit"), ("decimals", 2)),
        p.override("SLI (period)", ("unit", "percentunit"), ("decimals", 3)),
        p.override(
            "Budget remaining",
            ("unit", "percentunit"),
            ("decimals", 1),
            ("color", {"mode": "thresholds"}),
            ("thresholds", p.thresholds("red", (0.25, "orange"), (0.5, "green"))),
            ("custom.cellOptions", {"type": "color-background"}),
        ),
        p.override(
            f"Burn rate ({BURN_WINDOW})",
            ("unit", "suffix:x"),
            ("decimals", 2),
            ("color", {"mode": "thresholds"}),
            ("thresholds", burn),
            ("custom.cellOptions", {"type": "color-text"}),
        ),
        p.override("Period", ("unit", "dtdurations")),
        p.override(UID_LABEL, ("custom.hidden", True)),
    ]
    # A data link; the dashboard-link fields are there too because the Grafana schema types
    # field links as dashboard links (Grafana ignores them on a data link).
    link = {
        "asDropdown": False,
        "icon": "dashboard",
        "includeVars": False,
        "keepTime": False,
        "tags": [],
        "targetBlank": False,
        "tooltip": "",
        "type": "link",
        "title": "Open the SLO dashboard of ${__data.fields.Service}",
        "url": (
            f"/d/${{__data.fields.{UID_LABEL}}}?${{__url_time_range}}&${{datasource:queryparam}}"
        ),
    }
    return p.table(
        "SLOs, worst first",
        "Every SLO of this build, sorted by error budget remaining (least first). SLI and "
        "budget are over each SLO's own period; burn rate over the last hour (1 = spending "
        "exactly the budget, above 1 the budget runs out before the period ends). Click a "
        "row to open the service's dashboard. Empty cells mean no traffic in the period.",
        targets,
        unit="percentunit",
        overrides=overrides,
        transformations=transformations,
        links=[link],
    )


def fleet_dashboard(services: Sequence[Service]) -> p.Json:
    """The overview of every SLO of ``services``."""
    only = f"{c.SLO_LABEL_SERVICE}=~{promql_regex_alternatives(sorted({s.name for s in services}))}"
    window = f'{c.SLO_LABEL_WINDOW}="{BURN_WINDOW}"'
    grid = p.Grid()
    grid.add(
        p.stat(
            "SLOs out of budget",
            "SLOs whose error budget for the period is spent (budget remaining below 0): "
            "their objective is already missed. Find them at the top of the table.",
            f"count(min by ({_BY}) ({c.RULE_ERROR_BUDGET_REMAINING}{{{only}}}) < 0) or vector(0)",
            unit="none",
            threshold_steps=p.thresholds("green", (1.0, "red")),
        ),
        w=6,
        h=4,
    )
    grid.add(
        p.stat(
            f"SLOs burning faster than budget ({BURN_WINDOW})",
            "SLOs whose burn rate over the last hour is above 1: if it goes on they run out of "
            "budget before their period ends. Short spikes are normal; pages fire at 14.4 "
            "(30-day SLOs).",
            f"count(max by ({_BY}) ({c.RULE_BURN_RATE}{{{only}, {window}}}) > 1) or vector(0)",
            unit="none",
            threshold_steps=p.thresholds("green", (1.0, "orange")),
        ),
        w=6,
        h=4,
    )
    grid.add(
        p.stat(
            "SLOs",
            "Number of SLOs reporting (objective series present). Fewer than expected means "
            "some rule files are not loaded in Prometheus.",
            f"count(max by ({_BY}) ({c.RULE_OBJECTIVE}{{{only}}})) or vector(0)",
            unit="none",
            threshold_steps=p.thresholds("blue"),
        ),
        w=6,
        h=4,
    )
    grid.add(
        p.text(
            "How to read this",
            "Budget remaining is the share of each SLO's error budget still unspent over its "
            "period: **below 25 %** slow down risky changes, **below 0** the objective is "
            "missed. Burn rate 1 spends exactly the budget over the period. Generated by "
            "`obskit slo build`; edits are overwritten.",
        ),
        w=6,
        h=4,
    )
    grid.add(_table(services), w=24, h=max(8, min(30, 3 + sum(len(s.slos) for s in services))))
    return p.dashboard(
        uid=FLEET_UID,
        title="SLOs: fleet overview",
        description="Every SLO of the build, worst first, linking to each service's dashboard.",
        tags=["obskit", "slo"],
        grid=grid,
        time_from="now-24h",
    )
