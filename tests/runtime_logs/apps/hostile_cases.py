"""Values a log call cannot encode as they are, by name (shared by the hostile apps)."""

from __future__ import annotations

from typing import Any


class NoJson:
    """An object with no JSON form."""


def _cycle_dict() -> dict[str, Any]:
    d: dict[str, Any] = {"a": 1}
    d["self"] = d
    return d


def _cycle_list() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


CASES: dict[str, Any] = {
    "int70": lambda: 2**70,
    "tuple_keys": lambda: {(1, 2): "a"},
    "cycle_dict": _cycle_dict,
    "cycle_list": _cycle_list,
    "no_json": NoJson,
    "surrogate": lambda: "a\udc80b",
    "one_mb": lambda: "m" * 1_000_000,
}
