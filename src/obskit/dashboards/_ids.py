"""Stable identifiers: dashboard uids, file names and PromQL string literals.

Grafana identifies a dashboard across instances by its ``uid`` (at most 40 characters of
``[A-Za-z0-9_-]``); links, provisioning and ``push`` all rely on it staying the same from one
build to the next, so it is derived from the service name alone, never from a counter or a clock.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

#: Grafana's limit on a dashboard uid.
MAX_UID_LENGTH: Final = 40
UID_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]{1,40}$")

#: Per-service dashboards start with this; the fixed uids below do not, so no service name can
#: collide with them.
SERVICE_UID_PREFIX: Final = "slo-"
FLEET_UID: Final = "obskit-slo-fleet"
GENERIC_UID: Final = "obskit-service"

_INVALID_UID_CHARS: Final = re.compile(r"[^A-Za-z0-9_-]+")
_HASH_CHARS: Final = 10


def service_uid(service: str) -> str:
    """The uid of ``service``'s dashboard: ``slo-<service>``, or a hashed form when that would be
    invalid or longer than 40 characters.

    The hashed form keeps a readable (sanitised, truncated) prefix and appends the first ten hex
    digits of the name's SHA-256, so two long names sharing a prefix still get different uids.
    """
    plain = SERVICE_UID_PREFIX + service
    if UID_PATTERN.match(plain):
        return plain
    digest = hashlib.sha256(service.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    readable = _INVALID_UID_CHARS.sub("-", service).strip("-")
    room = MAX_UID_LENGTH - len(SERVICE_UID_PREFIX) - 1 - _HASH_CHARS
    prefix = readable[:room].rstrip("-")
    return f"{SERVICE_UID_PREFIX}{prefix}-{digest}" if prefix else SERVICE_UID_PREFIX + digest


def promql_string(value: str) -> str:
    """``value`` as a double-quoted PromQL string literal (no way to break out of the quotes)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


_REGEX_META: Final = re.compile(r"([\\.^$|?*+()\[\]{}])")


def promql_regex_alternatives(values: list[str]) -> str:
    """A PromQL string literal holding an anchored RE2 alternation of the literal ``values``."""
    return promql_string("|".join(_REGEX_META.sub(r"\\\1", v) for v in values))


_SAFE_PATH: Final = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_path_component(value: str, fallback: str) -> str:
    """``value`` usable as one folder name (no separators, no ``..``), else ``fallback``."""
    cleaned = _SAFE_PATH.sub("-", value).strip("-.")
    return cleaned or fallback
