"""A setting obskit cannot use, and the checks every variable is made of.

A check reads one variable of ``env``; when the value is unusable it *cleans* ``env`` (deletes
the variable, so the SDK uses its default, or rewrites it with its valid members) and returns
the :class:`Problem` that ``init()`` logs as one JSON warning.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "FALSE",
    "TRUE",
    "Env",
    "Problem",
    "boolean",
    "choice",
    "drop",
    "integer",
    "keep_valid",
    "value_of",
]

TRUE: Final = frozenset({"1", "true", "yes", "on"})
FALSE: Final = frozenset({"0", "false", "no", "off", ""})

Env = MutableMapping[str, str]


@dataclass(frozen=True, slots=True)
class Problem:
    """One unusable setting: logged as one JSON warning line by ``init()``."""

    variable: str
    #: The value as set; None for a secret (never logged).
    value: str | None
    problem: str
    using: str

    def fields(self) -> dict[str, str]:
        """The warning line's fields (``value`` only when not secret)."""
        out = {"variable": self.variable}
        if self.value is not None:
            out["value"] = self.value
        out["problem"] = self.problem
        out["using"] = self.using
        return out


def value_of(env: Env, name: str) -> str | None:
    """The variable's value without surrounding blanks; None when unset or blank."""
    raw = env.get(name)
    return raw.strip() if raw is not None and raw.strip() else None


def drop(env: Env, name: str, problem: str, using: str, *, secret: bool = False) -> Problem:
    """Remove the variable (the SDK then uses its default, ``using``) and report it."""
    value = env.pop(name, "")
    return Problem(name, None if secret else value, problem, using)


def keep_valid(env: Env, name: str, good: list[str]) -> None:
    """Rewrite a list-valued variable with its valid members, or remove it when none is left."""
    if good:
        env[name] = ",".join(good)
    else:
        env.pop(name, None)


def choice(env: Env, name: str, allowed: frozenset[str], default: str) -> Problem | None:
    """One of ``allowed`` (any case)."""
    value = value_of(env, name)
    if value is None or value.lower() in allowed:
        return None
    return drop(env, name, f"expected one of {', '.join(sorted(allowed))}", default)


def integer(env: Env, name: str, default: str, *, minimum: int = 0) -> Problem | None:
    """A whole number of at least ``minimum``."""
    value = value_of(env, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        return drop(env, name, "not an integer", default)
    if number < minimum:
        return drop(env, name, f"must be at least {minimum}", default)
    return None


def boolean(env: Env, name: str) -> Problem | None:
    """true or false (the SDK's spellings)."""
    value = value_of(env, name)
    if value is None or value.lower() in TRUE | FALSE:
        return None
    return drop(env, name, "expected true or false", "false")
