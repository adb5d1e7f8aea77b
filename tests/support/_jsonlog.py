"""Parse a server's JSON log lines and find the ones a test cares about."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["assert_all_json", "find_records", "parse_json_lines", "walk_values"]


def parse_json_lines(lines: Iterable[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Split ``lines`` into parsed JSON objects and the lines that are not a JSON object.

    Blank lines count as not-JSON: a log pipeline that emits them is printing something extra.
    """
    records: list[dict[str, Any]] = []
    bad: list[str] = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if isinstance(value, dict):
            records.append(value)
        else:
            bad.append(line)
    return records, bad


def assert_all_json(lines: Iterable[str], *, what: str = "output") -> list[dict[str, Any]]:
    """Parse every line as a JSON object; fail listing the first offending lines otherwise."""
    lines = list(lines)
    records, bad = parse_json_lines(lines)
    if bad:
        shown = "\n".join(repr(b)[:300] for b in bad[:15])
        raise AssertionError(
            f"{len(bad)} of {len(lines)} lines of {what} are not JSON objects, e.g.:\n{shown}"
        )
    return records


def find_records(
    records: Iterable[Mapping[str, Any]],
    predicate: Callable[[Mapping[str, Any]], bool] | None = None,
    **fields: Any,
) -> list[Mapping[str, Any]]:
    """Records whose top-level ``fields`` equal the given values and that satisfy ``predicate``."""
    found = []
    for record in records:
        if all(record.get(k) == v for k, v in fields.items()) and (
            predicate is None or predicate(record)
        ):
            found.append(record)
    return found


def walk_values(value: Any) -> Iterable[str]:
    """Every string key and scalar value in a nested JSON value, as strings.

    Used to look for a secret anywhere in a log record, however deeply the runtime nested it.
    """
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from walk_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from walk_values(item)
    elif value is not None:
        yield str(value)
