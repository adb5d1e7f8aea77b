"""The compiler's public API: ``load`` → ``build`` → ``write`` / ``drift``.

The same four steps ``obskit slo build`` runs, for code that compiles SLOs itself (a test, a
generator in a monorepo, a pre-commit hook): nothing here reads the command line, prints, or
exits. Every step is all-or-nothing like the CLI: ``load`` and ``build`` raise
:class:`SpecErrors` carrying every problem found and return nothing partial; ``write`` touches
the disk only after everything was rendered.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from obskit.slo._model import AlertShape, Service
from obskit.slo._rules import DEFAULT_MAX_RULES_PER_GROUP, RuleGroup, service_groups

if TYPE_CHECKING:  # obskit.dashboards imports the model: a run-time import here is a cycle
    from obskit.dashboards._build import DashboardOptions

__all__ = ["build", "drift", "load", "rule_groups", "write"]

PathArg = str | os.PathLike[str]
RuleFormat = Literal["prometheus", "prometheus-operator"]


def load(
    paths: PathArg | Sequence[PathArg], *, alert_shape: AlertShape | Literal["auto"] = "auto"
) -> list[Service]:
    """Load and validate SLO specs: files, or folders searched recursively for ``*.yaml``/``*.yml``.

    Every format ``obskit slo build`` reads is detected per YAML document (native, Sloth
    ``prometheus/v1`` and ``sloth.slok.dev/v1``, OpenSLO v1, Pyrra ``pyrra.dev/v1alpha1``).

    Args:
        paths: one path or several.
        alert_shape: ``"auto"`` (Sloth input gets Sloth's alerts, the rest one alert per window
            pair), ``"sloth"`` or ``"windows"`` for every SLO — the CLI's ``--alert-shape``.

    Returns:
        The services sorted by name, each with its SLOs in file order (frozen dataclasses).

    Raises:
        SpecErrors: every problem in every file, each naming file, line and field.
    """
    from obskit.slo._load import load_paths

    listed: Sequence[PathArg] = [paths] if isinstance(paths, str | os.PathLike) else paths
    services = load_paths(listed)
    if alert_shape != "auto":
        from obskit.slo._sloth_alerts import with_alert_shape

        services = with_alert_shape(services, alert_shape)
    return services


def rule_groups(
    service: Service, *, max_rules_per_group: int = DEFAULT_MAX_RULES_PER_GROUP
) -> list[RuleGroup]:
    """The Prometheus rule groups of one service, every expression parsed.

    Groups are cut at ``max_rules_per_group`` rules (0: no limit; the default is Mimir's 20).

    Raises:
        SpecErrors: a generated expression does not parse.
    """
    return service_groups(service, max_rules=max_rules_per_group)


def build(
    services: Sequence[Service],
    *,
    format: RuleFormat = "prometheus",
    max_rules_per_group: int = DEFAULT_MAX_RULES_PER_GROUP,
    dashboards: DashboardOptions | None = None,
) -> dict[str, str]:
    """Every file of a build, in memory: ``"rules/<service>.yaml"`` and ``"dashboards/…"`` → text.

    Args:
        services: what :func:`load` returned.
        format: ``"prometheus"`` (plain rule files) or ``"prometheus-operator"``
            (``PrometheusRule`` objects).
        max_rules_per_group: the CLI's ``--max-rules-per-group``.
        dashboards: how dashboards are written (default: as ``obskit slo build`` does);
            ``DashboardOptions(enabled=False)`` builds rules only.

    Raises:
        SpecErrors: a generated expression does not parse (every such problem).
        ValueError: two services would share a dashboard uid.
    """
    from obskit.dashboards._build import DashboardOptions, render
    from obskit.slo._output import build_files

    rendered = render(services, dashboards or DashboardOptions())
    return build_files(services, format, rendered, max_rules_per_group=max_rules_per_group)


def write(files: Mapping[str, str], out: PathArg = ".") -> list[str]:
    """Write a :func:`build` into ``out`` as ``obskit slo build --out`` does.

    Unchanged files are not rewritten; stale files obskit generated earlier are removed;
    a file in the way that obskit did not write stops everything before the first write.

    Returns:
        The paths written or removed, relative to ``out``.

    Raises:
        OutputError: a file in the way is not obskit's (nothing written).
    """
    from obskit.slo._output import apply, plan

    return apply(plan(Path(out), dict(files)))


def drift(files: Mapping[str, str], out: PathArg = ".") -> list[str]:
    """What ``obskit slo build --check`` reports: one line per file of ``out`` that differs
    from ``files`` (``"rules/x.yaml: differs"``, ``… missing``, ``… stale``); empty when
    the output is up to date. Writes nothing."""
    from obskit.slo._output import plan

    return plan(Path(out), dict(files)).drift
