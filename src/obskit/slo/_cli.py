"""``obskit slo …`` sub-commands (placeholder until the compiler lands)."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    """Add ``obskit slo`` to the top-level sub-command set."""
    parser: argparse.ArgumentParser = commands.add_parser("slo", help="compile SLO specs")
    parser.set_defaults(func=lambda _args: 2)
