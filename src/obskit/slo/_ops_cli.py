"""``obskit slo status`` and ``obskit slo gate``: the live side of the SLO commands.

Exit codes of ``status`` (docs/slo-cli.md): 0 every figure available; 2 bad input (spec errors,
bad options); 3 server unreachable (refused, timeout, TLS, 502/503/504); 4 authentication
refused (401/403); 5 rules not loaded for some service; 6 an SLO of the specs the server never
recorded; 7 too little data for a period; 8 a server answer that is not a Prometheus API answer.
When several SLOs have problems, the smallest code wins; the output is printed anyway.
``gate``: 0 allow, 1 block, 2 cannot decide (``--fail-open``: an unreachable server allows).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any, Final

__all__ = ["EXIT_AUTH", "EXIT_RESPONSE", "EXIT_UNREACHABLE", "register_ops"]

EXIT_INPUT: Final = 2
EXIT_UNREACHABLE: Final = 3
EXIT_AUTH: Final = 4
EXIT_RESPONSE: Final = 8


def _server_arguments(parser: argparse.ArgumentParser) -> None:
    from obskit.slo._promapi import PASSWORD_ENV, TOKEN_ENV, URL_ENV, USER_ENV

    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="spec files or folders (default: slo/)"
    )
    parser.add_argument(
        "--prometheus",
        metavar="URL",
        default=os.environ.get(URL_ENV),
        help=f"Prometheus-compatible API base URL, path prefix included (default: ${URL_ENV}). "
        f"Credentials come from ${TOKEN_ENV} (bearer) or ${USER_ENV}/${PASSWORD_ENV} (basic)",
    )
    parser.add_argument("--service", action="append", metavar="NAME", help="only this service")
    parser.add_argument("--slo", action="append", metavar="NAME", help="only SLOs of this name")
    parser.add_argument(
        "--at", metavar="TIME", help="evaluate at this instant: Unix seconds or RFC 3339"
    )
    parser.add_argument("--tenant", metavar="ID", help="X-Scope-OrgID (Mimir, Cortex, Thanos)")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="extra request header (repeatable; never printed)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--ca-file", metavar="PATH", help="CA bundle to verify the server with")
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify the server's TLS certificate"
    )


def register_ops(sub: Any) -> None:
    """Add ``status`` and ``gate`` to the ``obskit slo`` sub-commands."""
    status = sub.add_parser(
        "status",
        help="live error budgets, burn rates and firing tiers from Prometheus",
        description="Read every SLO's recorded series through the Prometheus HTTP API.",
    )
    _server_arguments(status)
    status.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    status.set_defaults(func=_status)

    gate = sub.add_parser(
        "gate",
        help="evaluate the error-budget policies: exit 0 allow, 1 block, 2 cannot decide",
        description="Evaluate each SLO's error-budget policy now (a release pipeline's check).",
    )
    _server_arguments(gate)
    gate.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    gate.add_argument(
        "--fail-open",
        action="store_true",
        help="allow (exit 0, with a warning) when the server cannot be reached",
    )
    gate.set_defaults(func=_gate)


class _InputError(Exception):
    pass


def _parse_at(text: str | None) -> float:
    import time
    from datetime import datetime

    if text is None:
        return time.time()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _InputError(f"--at {text!r}: not Unix seconds or an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise _InputError(f"--at {text!r}: give a time zone (e.g. Z or +02:00)")
    return moment.timestamp()


_HEADER_NAME: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


def _headers(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for number, item in enumerate(items, start=1):
        name, sep, value = item.partition(":")
        name, value = name.strip(), value.strip()
        # The value may be a secret (and a malformed item may be all value): only a valid
        # name is ever echoed.
        if not sep or not _HEADER_NAME.match(name):
            raise _InputError(
                f"--header #{number}: expected NAME:VALUE (not shown: it may be secret)"
            )
        if "\r" in value or "\n" in value:
            raise _InputError(f"--header {name}: the value must be one line")
        out[name] = value
    return out


def _prepare(args: argparse.Namespace) -> tuple[Any, list[Any], float]:
    """The client, the selected services (SLOs filtered) and the instant; raises on bad input."""
    from dataclasses import replace

    from obskit.slo._load import load_paths
    from obskit.slo._promapi import URL_ENV, PromClient

    if not args.prometheus:
        raise _InputError(f"give --prometheus URL (or set {URL_ENV})")
    at = _parse_at(args.at)
    client = PromClient(
        args.prometheus,
        tenant=args.tenant,
        headers=_headers(args.header),
        timeout=args.timeout,
        ca_file=args.ca_file,
        insecure=args.insecure,
    )
    services = load_paths(args.paths or ["slo/"])
    if args.service:
        known = {s.name for s in services}
        unknown = sorted(set(args.service) - known)
        if unknown:
            raise _InputError(
                f"--service {', '.join(unknown)}: not in the specs (have: "
                f"{', '.join(sorted(known)) or 'none'})"
            )
        services = [s for s in services if s.name in args.service]
    if args.slo:
        wanted = set(args.slo)
        services = [replace(s, slos=tuple(x for x in s.slos if x.name in wanted)) for s in services]
        services = [s for s in services if s.slos]
        if not services:
            raise _InputError(f"--slo {', '.join(args.slo)}: no such SLO in the selection")
    return client, services, at


def _run(args: argparse.Namespace, gate: bool) -> int:
    from obskit.slo._errors import SpecError, SpecErrors
    from obskit.slo._promapi import PromAuthError, PromConfigError, PromError, PromUnreachable
    from obskit.slo._status import collect

    try:
        client, services, at = _prepare(args)
        report = collect(client, services, at)
    except (SpecErrors, SpecError) as exc:
        errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
        for error in errors:
            print(error, file=sys.stderr)
        return EXIT_INPUT
    except _InputError as exc:
        print(f"obskit: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except PromConfigError as exc:
        print(f"obskit: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except PromError as exc:
        code = (
            EXIT_UNREACHABLE
            if isinstance(exc, PromUnreachable)
            else EXIT_AUTH
            if isinstance(exc, PromAuthError)
            else EXIT_RESPONSE
        )
        if gate:
            return _gate_failure(args, exc, isinstance(exc, PromUnreachable))
        kind = {3: "server unreachable", 4: "access refused", 8: "bad answer"}[code]
        print(f"obskit: {kind}: {exc}", file=sys.stderr)
        return code
    except OSError as exc:
        print(f"obskit: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT
    if gate:
        from obskit.slo._gate import decide, render_gate

        result = decide(report)
        sys.stdout.write(render_gate(result, args.format))
        return result.exit_code
    return _print_status(report, args.format)


def _gate_failure(args: argparse.Namespace, exc: Exception, unreachable: bool) -> int:
    from obskit.slo._gate import EXIT_ALLOW, EXIT_ERROR, GateResult, render_gate

    if unreachable and args.fail_open:
        warning = f"--fail-open: allowing although the server is unreachable: {exc}"
        print(f"obskit: warning: {warning}", file=sys.stderr)
        sys.stdout.write(render_gate(GateResult(None), args.format, warning))
        return EXIT_ALLOW
    print(f"obskit: {exc}", file=sys.stderr)
    result = GateResult(None, errors=[str(exc)])
    sys.stdout.write(render_gate(result, args.format))
    return EXIT_ERROR


def _print_status(report: Any, fmt: str) -> int:
    from obskit.slo._status_render import render_json, render_markdown, render_table

    if fmt == "json":
        sys.stdout.write(render_json(report))
    elif fmt == "markdown":
        sys.stdout.write(render_markdown(report))
    else:
        sys.stdout.write(render_table(report, colour=_colour()))
    for status in report.statuses:
        if status.problem:
            slo = status.slo
            print(f"obskit: {slo.service}/{slo.name}: {status.problem.message}", file=sys.stderr)
    code: int = report.exit_code
    return code


def _colour() -> bool:
    """ANSI colour only on a terminal, and never with NO_COLOR set (no-color.org)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


def _status(args: argparse.Namespace) -> int:
    return _guard(args, gate=False)


def _gate(args: argparse.Namespace) -> int:
    return _guard(args, gate=True)


def _guard(args: argparse.Namespace, gate: bool) -> int:
    """No traceback ever (``OBSKIT_DEBUG=1`` re-raises for debugging)."""
    try:
        return _run(args, gate)
    except Exception as exc:
        if os.environ.get("OBSKIT_DEBUG"):
            raise
        print(
            f"obskit: internal error: {type(exc).__name__}: {exc} "
            "(set OBSKIT_DEBUG=1 for details; please report it)",
            file=sys.stderr,
        )
        return 70
