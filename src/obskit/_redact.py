"""Secret redaction for log events and span attributes.

Rule (documented in ``docs/runtime.md``): a key is lower-cased, ``-``/``.`` become ``_``, it is
split on ``_``, and it is secret when any *suffix* of its parts (joined with ``_``) is in the key
set.  ``db_password`` and ``x-api-key`` match; ``auth_method`` and ``token_count`` do not — the
secret word must end the key.  Decisions are cached per key, so the hot path is a dict lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from obskit._config import normalise_key

__all__ = ["REDACTED", "Redactor"]

REDACTED: Final = "[REDACTED]"
_MAX_DEPTH: Final = 8
_CACHE_MAX: Final = 4096


class Redactor:
    """Decides which keys are secret and replaces their values."""

    __slots__ = ("_cache", "_keys")

    def __init__(self, keys: frozenset[str]) -> None:
        self._keys = keys
        self._cache: dict[str, bool] = {}

    def is_secret(self, key: str) -> bool:
        """Whether ``key`` names a secret (cached)."""
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        parts = normalise_key(key).split("_")
        secret = any("_".join(parts[i:]) in self._keys for i in range(len(parts)))
        if len(self._cache) < _CACHE_MAX:
            self._cache[key] = secret
        return secret

    def redact_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Redact a log event in place (top level and nested containers)."""
        for key, value in event.items():
            if self.is_secret(key):
                event[key] = REDACTED
            elif isinstance(value, (dict, list, tuple)):
                event[key] = self._nested(value, 1)
        return event

    def _nested(self, value: Any, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            return value
        if isinstance(value, Mapping):
            return {
                k: (
                    REDACTED
                    if isinstance(k, str) and self.is_secret(k)
                    else self._nested(v, depth + 1)
                )
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self._nested(v, depth + 1) for v in value]
        return value

    def redact_query(self, query: str) -> str:
        """A URL query string with the values of secret parameters replaced."""
        if not query:
            return query
        parts = []
        for pair in query.split("&"):
            name, sep, _value = pair.partition("=")
            parts.append(f"{name}={REDACTED}" if sep and self.is_secret(name) else pair)
        return "&".join(parts)
