"""``obskit dashboards push``: send dashboard JSON files to Grafana's HTTP API.

Exit codes: 0 every dashboard saved (or printed, with ``--dry-run``); 1 at least one dashboard
was not saved (HTTP error, Grafana unreachable); 2 bad usage or input (no ``--url``, a URL that
is not http(s), no dashboard found, a file that is not a dashboard JSON object).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from obskit._version import __version__

EXIT_OK = 0
EXIT_PUSH_FAILED = 1
EXIT_USAGE = 2


def register(commands: Any) -> None:
    """Add ``obskit dashboards`` to the top-level sub-command set."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "dashboards", help="Grafana dashboards: push them through Grafana's HTTP API"
    )
    sub = parser.add_subparsers(dest="dashboards_command", required=True, metavar="COMMAND")
    push = sub.add_parser(
        "push",
        help="save dashboard JSON files in Grafana (POST /api/dashboards/db, overwrite)",
        description=(
            "Save each dashboard JSON file (folders are searched for *.json) in Grafana, "
            "overwriting the dashboard with the same uid. Exit codes: 0 all saved, "
            "1 some not saved, 2 bad usage or input."
        ),
    )
    push.add_argument("paths", nargs="*", default=["dashboards"], metavar="PATH")
    push.add_argument("--url", default=os.environ.get("GRAFANA_URL"), help="Grafana root URL")
    push.add_argument(
        "--token", help="service-account token (default: $GRAFANA_TOKEN); never printed"
    )
    push.add_argument("--user", help="basic-auth user (default: $GRAFANA_USER)")
    push.add_argument("--password", help="basic-auth password (default: $GRAFANA_PASSWORD)")
    push.add_argument(
        "--folder-uid", default="", help="uid of the target folder (default: General)"
    )
    push.add_argument("--message", default=f"pushed by obskit {__version__}")
    push.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    push.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; send nothing"
    )
    push.set_defaults(func=_push)

    def usage(_args: argparse.Namespace) -> int:
        parser.print_usage(sys.stderr)
        return EXIT_USAGE

    parser.set_defaults(func=usage)


def _collect(paths: list[str]) -> tuple[list[Path], list[str]]:
    files: list[Path] = []
    errors: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            errors.append(f"{raw}: no such file or folder")
    return files, errors


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("uid"), str) or "panels" not in data:
        raise ValueError(f"{path}: not a dashboard (a JSON object with uid and panels)")
    return data


def _push(args: argparse.Namespace) -> int:
    from obskit.dashboards._push import Auth, PushError, describe_auth, payload, push

    url = args.url or ""
    if not url.startswith(("http://", "https://")):
        print(
            "obskit dashboards push: --url http(s)://… (or GRAFANA_URL) is required",
            file=sys.stderr,
        )
        return EXIT_USAGE
    auth = Auth(
        token=args.token or os.environ.get("GRAFANA_TOKEN") or None,
        user=args.user or os.environ.get("GRAFANA_USER") or None,
        password=args.password or os.environ.get("GRAFANA_PASSWORD") or None,
    )
    files, errors = _collect(args.paths)
    dashboards: list[tuple[Path, dict[str, Any]]] = []
    for path in files:
        try:
            dashboards.append((path, _load(path)))
        except ValueError as exc:
            errors.append(str(exc))
    if not dashboards and not errors:
        errors.append(f"no *.json dashboard found in {' '.join(args.paths)}")
    if errors:
        for error in errors:
            print(f"obskit dashboards push: {error}", file=sys.stderr)
        return EXIT_USAGE

    endpoint = url.rstrip("/") + "/api/dashboards/db"
    failed = 0
    for path, dashboard in dashboards:
        body = payload(dashboard, args.folder_uid, args.message)
        if args.dry_run:
            print(f"# {path}: would POST {endpoint} ({describe_auth(auth)})")
            print(json.dumps(body, indent=2, sort_keys=True))
            continue
        try:
            answer = push(url, body, auth, timeout=args.timeout)
        except PushError as exc:
            failed += 1
            print(f"{path}: {exc}", file=sys.stderr)
            if exc.status == 401:
                # The credentials are wrong for every dashboard: stop instead of repeating it.
                break
            continue
        where = answer.get("url") or dashboard["uid"]
        print(f"{path}: saved {dashboard['uid']} (version {answer.get('version', '?')}) {where}")
    return EXIT_PUSH_FAILED if failed else EXIT_OK
