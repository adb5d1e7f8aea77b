"""``obskit slo status`` output: a table for people, JSON for programs, Markdown for CI.

The JSON shape is versioned (:data:`SCHEMA_VERSION`) and documented field by field in
``docs/slo-cli.md``; a field is only ever added within a version, never renamed or removed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any, Final

from obskit._version import __version__
from obskit.slo._status import PROBLEM_EXIT, Report, SLOStatus, human_duration, window_order

__all__ = [
    "SCHEMA_VERSION",
    "iso",
    "md_cell",
    "render_json",
    "render_markdown",
    "render_table",
    "status_dict",
]

SCHEMA_VERSION: Final = 1
_RESET: Final = "\033[0m"
_RED: Final = "\033[31m"
_YELLOW: Final = "\033[33m"
_GREEN: Final = "\033[32m"
_DIM: Final = "\033[2m"


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def iso(at: float) -> str:
    """Unix time → ``2026-12-01T00:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def status_dict(status: SLOStatus) -> dict[str, Any]:
    """One SLO in the JSON shape (schema version 1)."""
    slo = status.slo
    policy = slo.policy
    return {
        "id": slo.id,
        "service": slo.service,
        "slo": slo.name,
        "source": f"{slo.source.path}:{slo.source.line}",
        "objective_percent": slo.objective,
        "objective": slo.objective_ratio,
        "period": slo.period,
        "period_seconds": status.period_seconds,
        "error_budget": slo.error_budget,
        "sli": _finite(status.sli),
        "error_ratio": _finite(status.error_ratio),
        "budget_remaining": _finite(status.budget_remaining),
        "current_burn_window": status.current_window,
        "current_burn_rate": _finite(status.current_burn_rate),
        "budget_lasts_seconds": _finite(status.budget_lasts_seconds),
        "events": _finite(status.events),
        "errors": _finite(status.errors),
        "data_seconds": _finite(status.data_seconds),
        "group_by": list(slo.sli.group_by),
        "groups": status.groups,
        "worst_group": status.worst_group,
        "burn_rates": {w: _finite(v) for w, v in status.burn_rates.items()},
        "tiers": [
            {
                "name": t.tier.name,
                "severity": t.tier.severity,
                "long_window": t.tier.long_window,
                "short_window": t.tier.short_window,
                "burn_rate_threshold": t.tier.burn_rate,
                "state": t.state,
            }
            for t in status.tiers
        ],
        "firing": sorted(status.firing),
        "problem": None
        if status.problem is None
        else {
            "kind": status.problem.kind,
            "message": status.problem.message,
            "exit_code": PROBLEM_EXIT[status.problem.kind],
        },
        "notes": list(status.notes),
        "policy": None
        if policy is None
        else {
            "freeze_below": policy.freeze_below,
            "warn_below": policy.warn_below,
            "freeze_while_firing": list(policy.freeze_while_firing),
        },
    }


def render_json(report: Report) -> str:
    """The whole report as JSON (no NaN or Infinity: missing figures are ``null``)."""
    body = {
        "schema_version": SCHEMA_VERSION,
        "generated_by": f"obskit {__version__}",
        "at": iso(report.at),
        "at_unix": report.at,
        "prometheus": report.url,
        "exit_code": report.exit_code,
        "slos": [status_dict(s) for s in report.statuses],
    }
    return json.dumps(body, indent=2, allow_nan=False) + "\n"


# -- shared cell formatting --------------------------------------------------------------------


def _pct(value: float | None, decimals: int) -> str:
    return "-" if value is None else f"{value * 100:.{decimals}f}%"


def _count(value: float | None) -> str:
    if value is None:
        return "-"
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.0f}"


def _burn(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _lasts(status: SLOStatus) -> str:
    if status.budget_remaining is None or status.current_burn_rate is None:
        return "-"
    if status.budget_remaining <= 0:
        return "spent"
    lasts = status.budget_lasts_seconds
    return "forever" if lasts is None else human_duration(lasts)


def _firing(status: SLOStatus) -> str:
    shown = [
        t.tier.name + ("" if t.state == "firing" else " (pending)")
        for t in status.tiers
        if t.state in ("firing", "pending")
    ]
    return ", ".join(shown) or "-"


def _name(status: SLOStatus) -> str:
    """``service/slo``; a grouped SLO's figures are its worst group's, so that group is named."""
    slo = status.slo
    name = f"{slo.service}/{slo.name}"
    if slo.sli.group_by and status.worst_group is not None:
        group = ",".join(f"{k}={v}" for k, v in status.worst_group.items())
        name += f" [worst of {status.groups}: {group}]"
    return name


def _row(status: SLOStatus) -> list[str]:
    slo = status.slo
    return [
        _name(status),
        f"{slo.objective:g}% {slo.period}",
        _pct(status.sli, 4),
        _pct(status.budget_remaining, 1),
        _lasts(status),
        _count(status.events),
        _firing(status),
    ]


_HEAD: Final = ["SLO", "OBJECTIVE", "SLI", "BUDGET LEFT", "LASTS", "EVENTS", "FIRING"]


def _windows(report: Report) -> list[str]:
    seen: dict[str, None] = {}
    for status in report.statuses:
        seen.update(dict.fromkeys(status.burn_rates))
    return sorted(seen, key=window_order)


def _notes(report: Report) -> list[tuple[str, str, bool]]:
    """(slo, message, is_problem) for every problem and note."""
    out: list[tuple[str, str, bool]] = []
    for status in report.statuses:
        name = f"{status.slo.service}/{status.slo.name}"
        if status.problem:
            out.append((name, status.problem.message, True))
        out += [(name, note, False) for note in status.notes]
    return out


# -- table ---------------------------------------------------------------------------------------


def _colour_for(status: SLOStatus, column: int) -> str:
    if column == 3 and status.budget_remaining is not None:
        if status.budget_remaining <= 0:
            return _RED
        return _YELLOW if status.budget_remaining < 0.25 else _GREEN
    if column == 6:
        if status.firing:
            return _RED
        if any(t.state == "pending" for t in status.tiers):
            return _YELLOW
    if column == 0 and status.problem:
        return _YELLOW
    return ""


def _grid(rows: list[list[str]], paint: Callable[[int, int], str]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for r, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            padded = cell.ljust(widths[i]) if i == 0 or i == len(row) - 1 else cell.rjust(widths[i])
            colour = paint(r, i)
            cells.append(f"{colour}{padded}{_RESET}" if colour else padded)
        lines.append("  ".join(cells).rstrip())
    return lines


def render_table(report: Report, colour: bool) -> str:
    """The report for a terminal; ANSI colours only when ``colour``."""
    statuses = report.statuses
    head = f"SLO status from {report.url} at {iso(report.at)}"
    lines = [f"{_DIM}{head}{_RESET}" if colour else head, ""]

    def paint_main(r: int, i: int) -> str:
        if not colour:
            return ""
        return _DIM if r == 0 else _colour_for(statuses[r - 1], i)

    lines += _grid([_HEAD, *[_row(s) for s in statuses]], paint_main)
    windows = _windows(report)
    if windows:
        burn_rows = [["BURN RATE", *windows]]
        burn_rows += [
            [f"{s.slo.service}/{s.slo.name}", *[_burn(s.burn_rates.get(w)) for w in windows]]
            for s in statuses
        ]
        lines += ["", *_grid(burn_rows, lambda r, i: _DIM if colour and r == 0 else "")]
    notes = _notes(report)
    if notes:
        lines.append("")
        for name, message, problem in notes:
            mark = "problem" if problem else "note"
            text = f"{name}: {mark}: {message}"
            lines.append(f"{_YELLOW}{text}{_RESET}" if colour and problem else text)
    return "\n".join(lines) + "\n"


# -- Markdown ----------------------------------------------------------------------------------


def md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _md_table(rows: list[list[str]], align: list[str]) -> list[str]:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows[1:]]
    return lines


def render_markdown(report: Report) -> str:
    """The report as GitHub-flavoured Markdown (job summaries, pull-request comments)."""
    lines = [
        "### SLO status",
        "",
        f"From `{report.url}` at {iso(report.at)}.",
        "",
    ]
    head = ["SLO", "Objective", "SLI", "Budget left", "Lasts", "Events", "Firing"]
    rows = [[f"`{r[0]}`", *r[1:]] for r in (_row(s) for s in report.statuses)]
    lines += _md_table([head, *rows], [":--", "--:", "--:", "--:", "--:", "--:", ":--"])
    windows = _windows(report)
    if windows:
        burn = [[f"`{s.slo.service}/{s.slo.name}`"] + [_burn(s.burn_rates.get(w)) for w in windows]
                for s in report.statuses]  # fmt: skip
        lines += ["", "<details><summary>Burn rate per window</summary>", ""]
        lines += _md_table([["SLO", *windows], *burn], [":--"] + ["--:"] * len(windows))
        lines += ["", "</details>"]
    notes = _notes(report)
    if notes:
        lines += ["", "**Problems and notes**", ""]
        lines += [
            f"- `{name}`: {'**problem**' if problem else 'note'}: {md_cell(message)}"
            for name, message, problem in notes
        ]
    return "\n".join(lines) + "\n"
