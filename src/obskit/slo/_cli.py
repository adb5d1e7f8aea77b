"""``obskit slo build | validate | schema | explain``.

Exit codes: 0 success, 1 ``--check`` found drift, 2 bad input (each spec error on its own line
on stderr, ``file:line: field: message``) or an output folder obskit may not touch.  No command
ever prints a Python traceback (``OBSKIT_DEBUG=1`` re-raises unexpected errors for debugging).

Start-up stays cheap: registering the commands imports nothing but ``argparse`` and the
dashboards' flag definitions; the loaders, generator and PromQL parser load when a command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any, Final

__all__ = ["register"]

#: Mirrors ``obskit.slo._render.FORMATS`` (kept here so ``--help`` imports nothing heavy).
FORMATS: Final = ("prometheus", "prometheus-operator")
#: ``auto`` plus ``obskit.slo._model.ALERT_SHAPES`` (mirrored here for the same reason).
ALERT_SHAPES: Final = ("auto", "windows", "sloth")
EXIT_OK: Final = 0
EXIT_DRIFT: Final = 1
EXIT_INPUT: Final = 2
EXIT_INTERNAL: Final = 70
#: Mirrors ``obskit.slo._rules.DEFAULT_MAX_RULES_PER_GROUP`` (Mimir's default limit).
DEFAULT_MAX_RULES_PER_GROUP: Final = 20


def _rule_limit(text: str) -> int:
    """``--max-rules-per-group``: a whole number, 0 (no limit) or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more, got {value}")
    return value


def register(commands: Any) -> None:
    """Add ``obskit slo`` and its sub-commands to the top-level sub-command set."""
    from obskit.dashboards._build import add_build_arguments

    slo: argparse.ArgumentParser = commands.add_parser(
        "slo",
        help="compile SLO specs into Prometheus rules and dashboards",
        description=(
            "Compile SLO specs (native obskit, Sloth prometheus/v1, OpenSLO v1, "
            "Pyrra pyrra.dev/v1alpha1)."
        ),
    )
    sub = slo.add_subparsers(dest="slo_command", required=True, metavar="COMMAND")

    build = sub.add_parser(
        "build",
        help="write rules/<service>.yaml and dashboards/ from the specs",
        description=(
            "Compile the specs into OUT/rules/<service>.yaml and OUT/dashboards/. Everything is "
            "checked before anything is written; a failed build leaves OUT as it was."
        ),
    )
    build.add_argument(
        "paths", nargs="*", metavar="PATH", help="spec files or folders (default: slo/)"
    )
    build.add_argument("--out", default=".", metavar="DIR", help="output folder (default: .)")
    build.add_argument(
        "--format",
        choices=FORMATS,
        default="prometheus",
        help="plain Prometheus rule files (default) or Prometheus-Operator PrometheusRule objects",
    )
    build.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and list the files that differ from a fresh build (CI)",
    )
    build.add_argument(
        "--max-rules-per-group",
        type=_rule_limit,
        default=DEFAULT_MAX_RULES_PER_GROUP,
        metavar="N",
        help=(
            "cut rule groups at N rules (default: 20, Mimir's default "
            "ruler.max-rules-per-rule-group; 0 = no limit)"
        ),
    )
    _add_alert_shape(build)
    add_build_arguments(build)
    build.set_defaults(func=_guarded(_build))

    validate = sub.add_parser(
        "validate",
        help="run every check of a build and write nothing",
        description="Load, validate and generate everything a build would; write nothing.",
    )
    validate.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders")
    _add_alert_shape(validate)
    validate.set_defaults(func=_guarded(_validate))

    backfill = sub.add_parser(
        "backfill-rules",
        help="print the 5-minute rate rules only, for promtool tsdb create-blocks-from rules",
        description=(
            "Print a rule file holding only each SLO's two 5-minute rate rules: backfill them "
            "with `promtool tsdb create-blocks-from rules` when adding SLOs to a service with "
            "history, so the windows longer than 5m see it (docs/slo-rules.md)."
        ),
    )
    backfill.add_argument(
        "paths", nargs="*", metavar="PATH", help="spec files or folders (default: slo/)"
    )
    backfill.set_defaults(func=_guarded(_backfill))

    schema = sub.add_parser(
        "schema",
        help="print the JSON Schema of the native spec format (for editors)",
        description="Print the JSON Schema of the native obskit SLO spec format.",
    )
    schema.set_defaults(func=_guarded(_schema))

    # `status` and `gate` (live figures and the error-budget policy) live in their own module.
    from obskit.slo._ops_cli import register_ops

    register_ops(sub)
    _register_explain(sub)


def _add_alert_shape(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--alert-shape",
        choices=ALERT_SHAPES,
        default="auto",
        help=(
            "auto (default): Sloth input gets Sloth's alerts (one per severity, sloth_* labels), "
            "native and OpenSLO input one alert per window pair; sloth or windows: that shape "
            "for every SLO (see docs/coming-from-sloth.md)"
        ),
    )


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Map every failure to an exit code and a message; never a traceback."""

    def run(args: argparse.Namespace) -> int:
        from obskit.slo._errors import SpecError, SpecErrors
        from obskit.slo._output import OutputError

        try:
            return command(args)
        except SpecErrors as exc:
            for error in exc.errors:
                print(error, file=sys.stderr)
            return EXIT_INPUT
        except SpecError as exc:
            print(exc, file=sys.stderr)
            return EXIT_INPUT
        except OutputError as exc:
            print(f"obskit: {exc}", file=sys.stderr)
            return EXIT_INPUT
        except OSError as exc:
            print(f"obskit: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_INPUT
        except Exception as exc:
            if os.environ.get("OBSKIT_DEBUG"):
                raise
            print(
                f"obskit: internal error: {type(exc).__name__}: {exc} "
                "(set OBSKIT_DEBUG=1 for details; please report it)",
                file=sys.stderr,
            )
            return EXIT_INTERNAL

    return run


def _files(args: argparse.Namespace, paths: list[str], fmt: str) -> dict[str, str]:
    """Load, validate and render everything; raises before anything is written."""
    from obskit.dashboards._build import options_from_args
    from obskit.slo._api import build, load

    return build(
        load(paths, alert_shape=getattr(args, "alert_shape", "auto")),
        format="prometheus-operator" if fmt == "prometheus-operator" else "prometheus",
        max_rules_per_group=args.max_rules_per_group,
        dashboards=options_from_args(args),
    )


def _build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from obskit.slo._output import apply, plan

    files = _files(args, args.paths or ["slo/"], args.format)
    result = plan(Path(args.out), files)
    if args.check:
        drift = result.drift
        for line in drift:
            print(line)
        if drift:
            print(
                f"obskit: {len(drift)} file(s) in {args.out} differ from a fresh build; "
                "run `obskit slo build` and commit the result",
                file=sys.stderr,
            )
            return EXIT_DRIFT
        return EXIT_OK
    touched = apply(result)
    rules = sum(1 for rel in files if rel.startswith("rules/"))
    print(
        f"obskit: {rules} rule file(s), {len(files) - rules} dashboard file(s) in {args.out}: "
        f"{len(touched)} written or removed, {len(files) - len(result.changed + result.missing)}"
        " unchanged"
    )
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from obskit.slo._api import build, load

    services = load(args.paths, alert_shape=getattr(args, "alert_shape", "auto"))
    files = build(services)
    slos = sum(len(s.slos) for s in services)
    print(f"obskit: {len(services)} service(s), {slos} SLO(s) OK ({len(files)} files)")
    return EXIT_OK


def _backfill(args: argparse.Namespace) -> int:
    from obskit.slo._api import load
    from obskit.slo._output import display_path
    from obskit.slo._render import render_rule_file
    from obskit.slo._rules import backfill_groups, service_groups

    services = load(args.paths or ["slo/"])
    groups = [g for s in services for g in backfill_groups(service_groups(s, max_rules=0))]
    sources = sorted({display_path(slo.source.path) for s in services for slo in s.slos})
    sys.stdout.write(render_rule_file("backfill", groups, sources, "prometheus"))
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    import importlib
    import json

    # The schema module belongs to the spec loaders; looked up at run time so this command
    # fails with a clear message (not an ImportError) in a partial install.
    try:
        native_schema = importlib.import_module("obskit.slo._schema").native_schema
    except (ImportError, AttributeError) as exc:
        print(f"obskit: the native spec schema is not available: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    print(json.dumps(native_schema(), indent=2, sort_keys=False))
    return EXIT_OK


# -- obskit slo explain (static: what each alert tier will do) -----------------------------------


def _register_explain(sub: Any) -> None:
    explain: argparse.ArgumentParser = sub.add_parser(
        "explain",
        help="what each alert tier does: when it fires and stops, budget spent (no server)",
        description=(
            "Per SLO: the error budget, and per generated alert tier the error ratio above "
            "which it fires, when it fires for a total outage and for each --error-ratio "
            "(`for:` and the low-traffic guard included), the budget spent by then, and when it "
            "resolves after the errors stop. Static: reads the specs only. "
            "See docs/slo-explain.md."
        ),
    )
    explain.add_argument(
        "paths", nargs="*", metavar="PATH", help="spec files or folders (default: slo/)"
    )
    explain.add_argument(
        "--error-ratio",
        action="append",
        default=[],
        type=_error_ratio,
        metavar="R",
        help="a steady error ratio to explain besides a total outage: 0.02 or 2%% (repeatable)",
    )
    explain.add_argument(
        "--format", choices=("text", "json", "markdown"), default="text", help="default: text"
    )
    explain.add_argument(
        "--evaluation-interval",
        type=_interval,
        default=60,
        metavar="DURATION",
        help="the ruler's evaluation interval (default: 1m)",
    )
    explain.add_argument(
        "--scrape-interval",
        type=_interval,
        default=60,
        metavar="DURATION",
        help="the scrape interval of the SLI's series (default: 1m)",
    )
    explain.add_argument(
        "--prometheus-version",
        type=int,
        choices=(2, 3),
        default=2,
        help="range-selector semantics: 3 excludes the sample at a window's start (default: 2)",
    )
    explain.add_argument(
        "--requests-per-second",
        type=_positive,
        default=None,
        metavar="Q",
        help="steady traffic to assume for the min_events guard (default: enough for every tier)",
    )
    explain.add_argument(
        "--max-rules-per-group",
        type=_rule_limit,
        default=DEFAULT_MAX_RULES_PER_GROUP,
        metavar="N",
        help=(
            "the limit the rules are built with (obskit slo build's option, default 20): an "
            "alert in a later part of a cut group reads its windows one evaluation late"
        ),
    )
    explain.set_defaults(func=_guarded(_explain))


def _error_ratio(text: str) -> float:
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a ratio or a percentage: {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1] (or (0%, 100%]), not {text!r}")
    return value


def _interval(text: str) -> int:
    from obskit.slo._explain import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds < 1 or seconds != int(seconds):
        raise argparse.ArgumentTypeError(f"must be a whole number of seconds >= 1s, not {text!r}")
    return int(seconds)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}")
    return value


def _explain(args: argparse.Namespace) -> int:
    from obskit.slo._api import load
    from obskit.slo._explain import Timing, explain_services
    from obskit.slo._explain_render import render

    timing = Timing(args.evaluation_interval, args.scrape_interval, args.prometheus_version)
    problems = timing.problems()
    if problems:
        for problem in problems:
            print(f"obskit: --evaluation-interval/--scrape-interval: {problem}", file=sys.stderr)
        return EXIT_INPUT
    services = load(args.paths or ["slo/"])
    explanations = explain_services(
        services,
        args.error_ratio,
        timing=timing,
        requests_per_second=args.requests_per_second,
        max_rules=args.max_rules_per_group,
    )
    sys.stdout.write(
        render(args.format, explanations, timing, args.requests_per_second, args.error_ratio)
    )
    return EXIT_OK
