"""List-valued variables: the valid members are kept and the variable rewritten with them.

``OTEL_PROPAGATORS`` (an unknown name makes ``opentelemetry.propagate`` raise at import),
``OTEL_RESOURCE_ATTRIBUTES``, the exporter's headers (a secret: never logged) and the
``OTEL_PYTHON_*_EXCLUDED_URLS`` patterns.
"""

from __future__ import annotations

import os
import re
from typing import Final
from urllib.parse import quote, unquote

from obskit._runtime.envcheck.problem import Env, Problem, keep_valid, value_of

__all__ = [
    "EXCLUDED_URLS_FRAMEWORKS",
    "check_propagators",
    "excluded_urls",
    "headers",
    "resource_attributes",
]

#: ``OTEL_PYTHON_<FRAMEWORK>_EXCLUDED_URLS`` names the OpenTelemetry instrumentations read.
EXCLUDED_URLS_FRAMEWORKS: Final = ("DJANGO", "FASTAPI", "FLASK", "STARLETTE")
# W3C Baggage-like ``key=value`` list members, as the SDK's header parser accepts them.
_HEADER_KEY: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def check_propagators(env: Env | None = None) -> list[Problem]:
    """``OTEL_PROPAGATORS``: names not installed as ``opentelemetry_propagator`` entry points are
    removed (before ``opentelemetry.propagate`` is imported, which raises on them)."""
    env = os.environ if env is None else env
    value = value_of(env, "OTEL_PROPAGATORS")
    if value is None:
        return []
    from importlib.metadata import entry_points

    known = {ep.name for ep in entry_points(group="opentelemetry_propagator")} | {"none"}
    names = [n.strip() for n in value.split(",") if n.strip()]
    bad = [n for n in names if n not in known]
    if not bad:
        return []
    good = [n for n in names if n in known]
    using = ",".join(good) if good else "tracecontext,baggage"
    problem = f"unknown propagator(s) {', '.join(bad)} (installed: {', '.join(sorted(known))})"
    keep_valid(env, "OTEL_PROPAGATORS", good)
    return [Problem("OTEL_PROPAGATORS", value, problem, using)]


def resource_attributes(env: Env) -> Problem | None:
    """``OTEL_RESOURCE_ATTRIBUTES``: ``key=value`` members."""
    name = "OTEL_RESOURCE_ATTRIBUTES"
    value = value_of(env, name)
    if value is None:
        return None
    good: list[str] = []
    bad: list[str] = []
    for part in value.split(","):
        if not part.strip():
            continue
        key, sep, _ = part.partition("=")
        (good if sep and key.strip() else bad).append(part.strip())
    if not bad:
        return None
    keep_valid(env, name, good)
    return Problem(name, value, f"not key=value: {', '.join(bad)}", ",".join(good) or "none")


def headers(env: Env, name: str) -> Problem | None:
    """``key=value`` pairs, percent-encoded; the value is secret (never logged)."""
    value = value_of(env, name)
    if value is None:
        return None
    good: list[str] = []
    bad = 0
    for part in value.split(","):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        if sep and _HEADER_KEY.fullmatch(unquote(key).strip()):
            good.append(f"{key.strip()}={quote(unquote(val.strip()), safe='')}")
        else:
            bad += 1
    if not bad:
        return None
    keys = ", ".join(g.partition("=")[0] for g in good) or "none"
    keep_valid(env, name, good)
    return Problem(name, None, f"{bad} entr{'y is' if bad == 1 else 'ies are'} not key=value",
                   f"the other headers ({keys})")  # fmt: skip


def excluded_urls(env: Env, name: str) -> Problem | None:
    """Comma-separated regular expressions."""
    value = value_of(env, name)
    if value is None:
        return None
    good: list[str] = []
    bad: list[str] = []
    for pattern in (p.strip() for p in value.split(",")):
        try:
            re.compile(pattern)
        except re.error:
            bad.append(pattern)
        else:
            good.append(pattern)
    if not bad:
        return None
    keep_valid(env, name, good)
    return Problem(name, value, f"not a regular expression: {', '.join(bad)}",
                   ",".join(good) or "no excluded URLs")  # fmt: skip
