"""The ``obskit`` command line: ``obskit slo …`` and ``obskit dashboards …``.

Each command family registers its own sub-commands (``obskit.slo._cli``,
``obskit.dashboards._cli``); this module only dispatches, and keeps start-up cheap by importing
nothing heavy (no runtime, no OpenTelemetry) — ``obskit slo build`` runs in CI on every push.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from obskit._version import __version__


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to document the CLI)."""
    from obskit.dashboards._cli import register as register_dashboards
    from obskit.slo._cli import register as register_slo

    parser = argparse.ArgumentParser(
        prog="obskit",
        description="Compile SLO specs into Prometheus rules and Grafana dashboards.",
    )
    parser.add_argument("--version", action="version", version=f"obskit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_slo(commands)
    register_dashboards(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``obskit`` console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
