"""``obskit dashboards …`` sub-commands (placeholder until the dashboards land)."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    """Add ``obskit dashboards`` to the top-level sub-command set."""
    parser: argparse.ArgumentParser = commands.add_parser("dashboards", help="Grafana dashboards")
    parser.set_defaults(func=lambda _args: 2)
