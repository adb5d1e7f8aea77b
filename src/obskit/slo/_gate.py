"""``obskit slo gate``: the error-budget policy evaluated now — allow, warn or block a release.

Exit codes: 0 allow (warnings allowed), 1 block (one line per violated rule), 2 the decision
could not be made (bad input, an unreachable or refusing server, an SLO with a policy but no
data); ``--fail-open`` turns an unreachable server into 0 with a warning.  No data never allows
silently: an SLO with a policy whose rules are not loaded is exit 2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from obskit.slo._policy import Violation, evaluate_policy
from obskit.slo._status import Report
from obskit.slo._status_render import SCHEMA_VERSION, iso, md_cell, status_dict

__all__ = ["EXIT_ALLOW", "EXIT_BLOCK", "EXIT_ERROR", "GateResult", "decide", "render_gate"]

EXIT_ALLOW: Final = 0
EXIT_BLOCK: Final = 1
EXIT_ERROR: Final = 2


@dataclass
class GateResult:
    """The decision and every reason for it."""

    report: Report | None
    violations: list[Violation] = field(default_factory=list)
    #: Why some SLO could not be evaluated (any makes the exit code 2).
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def blocks(self) -> list[Violation]:
        return [v for v in self.violations if v.block]

    @property
    def exit_code(self) -> int:
        if self.errors:
            return EXIT_ERROR
        return EXIT_BLOCK if self.blocks else EXIT_ALLOW

    @property
    def decision(self) -> str:
        return {EXIT_ALLOW: "allow", EXIT_BLOCK: "block", EXIT_ERROR: "error"}[self.exit_code]


def decide(report: Report) -> GateResult:
    """Evaluate every SLO's policy against ``report``."""
    result = GateResult(report)
    for status in report.statuses:
        slo, policy = status.slo, status.slo.policy
        if policy is None or policy.empty:
            continue
        name = f"{slo.service}/{slo.name}"
        result.checked.append(name)
        if policy.source is not None:
            result.sources[name] = f"{policy.source.path}:{policy.source.line}"
        problem = status.problem
        if problem is not None and problem.kind != "too_little_data":
            result.errors.append(f"{name}: cannot evaluate the policy: {problem.message}")
            continue
        uses_budget = policy.freeze_below is not None or policy.warn_below is not None
        if uses_budget and status.budget_remaining is None:
            reason = problem.message if problem else "no budget-remaining series at this instant"
            result.errors.append(f"{name}: cannot evaluate the policy: {reason}")
            continue
        if problem is not None:
            result.warnings.append(f"{name}: {problem.message}")
        result.warnings += [f"{name}: {note}" for note in status.notes]
        for violation in evaluate_policy(name, policy, status.budget_remaining, status.firing):
            result.violations.append(violation)
    if not result.checked and not result.errors:
        result.warnings.append(
            "no SLO in the selection has an error-budget policy (`policy:` in the spec): "
            "nothing to enforce"
        )
    return result


_WORD: Final = {"allow": "ALLOW", "block": "BLOCK", "error": "ERROR"}


def _summary(result: GateResult) -> str:
    n = len(result.checked)
    if result.decision == "error":
        return f"cannot decide: {len(result.errors)} SLO(s) could not be evaluated"
    if result.decision == "block":
        return f"{len(result.blocks)} policy rule(s) violated in {n} SLO(s) with a policy"
    return f"{n} SLO(s) with a policy checked, {len(result.warnings)} warning(s)"


def _lines(result: GateResult) -> list[tuple[str, str]]:
    """(marker, line) for every violation, error and warning, in that order."""
    out: list[tuple[str, str]] = []
    for v in result.violations:
        where = result.sources.get(v.slo_id)
        suffix = f" ({where})" if where else ""
        out.append(("BLOCK" if v.block else "WARN", f"{v.slo_id}: {v.message}{suffix}"))
    out += [("ERROR", e) for e in result.errors]
    out += [("WARN", w) for w in result.warnings]
    return out


def render_gate(result: GateResult, fmt: str, fail_open_warning: str = "") -> str:
    """The decision as ``text``, ``markdown`` or ``json``."""
    if fail_open_warning:
        result.warnings.insert(0, fail_open_warning)
    if fmt == "json":
        return _json(result)
    report = result.report
    where = f" at {iso(report.at)} from {report.url}" if report else ""
    word = _WORD[result.decision]
    if fmt == "markdown":
        icon = {"allow": "✅", "block": "⛔", "error": "⚠️"}[result.decision]
        lines = [f"### {icon} SLO deploy gate: {word}", "", f"{_summary(result)}{where}.", ""]
        rows = _lines(result)
        if rows:
            lines += ["| | Reason |", "|:--|:--|"]
            lines += [f"| {m} | {md_cell(text)} |" for m, text in rows]
        return "\n".join(lines) + "\n"
    lines = [f"obskit slo gate: {word}: {_summary(result)}{where}"]
    lines += [f"{m:<5} {text}" for m, text in _lines(result)]
    return "\n".join(lines) + "\n"


def _json(result: GateResult) -> str:
    body: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "decision": result.decision,
        "exit_code": result.exit_code,
        "at": iso(result.report.at) if result.report else None,
        "prometheus": result.report.url if result.report else None,
        "checked": result.checked,
        "violations": [
            {
                "slo": v.slo_id,
                "rule": v.rule,
                "block": v.block,
                "message": v.message,
                "source": result.sources.get(v.slo_id),
            }
            for v in result.violations
        ],
        "errors": result.errors,
        "warnings": result.warnings,
        "slos": [status_dict(s) for s in result.report.statuses] if result.report else [],
    }
    return json.dumps(body, indent=2, allow_nan=False) + "\n"
