"""Dashboards written by ``obskit slo build`` (interface; the generator fills it in)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

from obskit.slo._model import Service


@dataclass(frozen=True)
class DashboardOptions:
    """How ``obskit slo build`` writes dashboards (set from its command-line flags)."""

    enabled: bool = True


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the dashboard flags to ``obskit slo build``."""


def options_from_args(args: argparse.Namespace) -> DashboardOptions:
    """The :class:`DashboardOptions` the parsed flags ask for."""
    return DashboardOptions()


def render(services: Sequence[Service], options: DashboardOptions) -> dict[str, str]:
    """Every dashboard file of a build: path relative to ``<out>/dashboards/`` → file content."""
    return {}
