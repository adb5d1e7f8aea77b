"""The error-budget policy: parsed from the native spec, evaluated by ``obskit slo gate``.

A policy is deliberately small and explicit (three keys, see ``docs/slo-spec.md``)::

    policy:
      freeze_below: 0.1            # block releases while < 10 % of the budget is left
      freeze_while_firing: [page]  # block while a page tier fires
      warn_below: 0.25             # warn (never block) while < 25 % is left

It can sit on the service (every SLO inherits it) and on an SLO (its keys replace the
service's).  google/slo-generator's policies are steps of burn-rate alerts; obskit already
generates those alerts, so its policy only says what a *release* does about the budget and them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from obskit.slo._model import WORKBOOK_TIERS, Policy, Source
from obskit.slo._yaml import Document, Path

__all__ = [
    "POLICY_KEYS",
    "Violation",
    "evaluate_policy",
    "firing_choices",
    "merge_policies",
    "parse_policy",
]

POLICY_KEYS: Final = ("freeze_below", "warn_below", "freeze_while_firing")
_SEVERITIES: Final = ("page", "ticket")


def firing_choices() -> tuple[str, ...]:
    """What ``freeze_while_firing`` accepts: severities, then the Workbook tier names."""
    return _SEVERITIES + tuple(f"{sev}-{long}" for sev, long, _, _ in WORKBOOK_TIERS)


def parse_policy(doc: Document, path: Path) -> dict[str, Any] | None:
    """The keys a ``policy:`` mapping sets (checked), ``{}`` when absent, ``None`` when broken.

    Only the keys present are returned, so an SLO's policy can replace some of its service's.
    """
    if doc.get(path) is None:
        return {}
    body = doc.mapping(path, POLICY_KEYS)
    if body is None:
        return None
    before = len(doc.errors)
    out: dict[str, Any] = {}
    for key in ("freeze_below", "warn_below"):
        value = doc.number((*path, key))
        if value is None:
            continue
        if not 0 <= value <= 1:
            doc.error(
                (*path, key),
                f"{value:g} is not a share of the error budget: use 0 … 1 (0.1 = 10 % left; "
                "0 = once the budget is overspent)",
            )
            continue
        out[key] = value
    firing = doc.string_list((*path, "freeze_while_firing"))
    if firing is not None:
        choices = firing_choices()
        for i, item in enumerate(firing):
            if item not in choices:
                doc.error(
                    (*path, "freeze_while_firing", i),
                    f"unknown severity or tier {item!r}: use one of " + ", ".join(choices),
                )
        out["freeze_while_firing"] = tuple(dict.fromkeys(firing))
    if len(doc.errors) > before:
        return None
    if not body:
        doc.error(path, "is empty: set freeze_below, warn_below or freeze_while_firing")
        return None
    return out


def merge_policies(
    doc: Document, path: Path, service: dict[str, Any], slo: dict[str, Any]
) -> Policy | None:
    """The SLO's policy in force: the service's keys, replaced by the SLO's own."""
    merged = {**service, **slo}
    if not merged:
        return None
    freeze, warn = merged.get("freeze_below"), merged.get("warn_below")
    if freeze is not None and warn is not None and warn < freeze:
        where = path if ("warn_below" in slo or "freeze_below" in slo) else ("policy",)
        doc.error(
            (*where, "warn_below"),
            f"warn_below ({warn:g}) is below freeze_below ({freeze:g}): the warning could "
            "never show before the freeze",
        )
        return None
    line_path = path if slo else ("policy",)
    return Policy(
        freeze_below=freeze,
        warn_below=warn,
        freeze_while_firing=merged.get("freeze_while_firing", ()),
        source=Source(doc.path, doc.line_of(line_path)),
    )


@dataclass(frozen=True)
class Violation:
    """One policy rule that holds now: ``block`` (freeze) or a warning."""

    slo_id: str
    rule: str
    message: str
    block: bool


def evaluate_policy(
    slo_id: str,
    policy: Policy,
    remaining: float | None,
    firing: dict[str, str],
) -> list[Violation]:
    """The rules of ``policy`` that hold for an SLO with ``remaining`` budget and ``firing``
    tiers (tier name → severity).  ``remaining`` is ``None`` only when the caller found no
    data, which it must report as an error itself: no data never allows or blocks silently."""
    out: list[Violation] = []
    freeze, warn = policy.freeze_below, policy.warn_below
    if remaining is not None and freeze is not None and remaining < freeze:
        message = f"error budget remaining {_pct(remaining)} is below freeze_below {_pct(freeze)}"
        out.append(Violation(slo_id, "freeze_below", message, block=True))
    for tier, severity in sorted(firing.items()):
        if tier in policy.freeze_while_firing or severity in policy.freeze_while_firing:
            chosen = ", ".join(policy.freeze_while_firing)
            message = f"alert tier {tier} ({severity}) is firing (freeze_while_firing: {chosen})"
            out.append(Violation(slo_id, "freeze_while_firing", message, block=True))
    frozen_by_budget = bool(out) and out[0].rule == "freeze_below"
    if remaining is not None and warn is not None and remaining < warn and not frozen_by_budget:
        message = f"error budget remaining {_pct(remaining)} is below warn_below {_pct(warn)}"
        out.append(Violation(slo_id, "warn_below", message, block=False))
    return out


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.4g}%"
