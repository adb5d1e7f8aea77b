"""Reading the queries back out of a dashboard, and filling Grafana's variables in as Grafana
would, so tests (and the end-to-end suite) can parse every query and run it on a real Prometheus.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import promql_parser

#: Values Grafana gives its built-in variables; ``$__rate_interval`` is at least four scrape
#: intervals, so one minute suits the default 15 s scrape.
BUILTIN_DEFAULTS: Final[Mapping[str, str]] = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}

# Grafana's own variable syntaxes: ${name}, ${name:format}, [[name]], [[name:format]], $name.
_VARIABLE: Final = re.compile(
    r"\$\{(?P<braced>\w+)(?::(?P<bformat>\w+))?\}"
    r"|\[\[(?P<bracket>\w+)(?::(?P<kformat>\w+))?\]\]"
    r"|\$(?P<plain>\w+)"
)
_REGEX_META: Final = re.compile(r"([\\^$*+?.()|{}\[\]'])")
#: The label_values(<selector>, <label>) form of a query variable.
_LABEL_VALUES: Final = re.compile(
    r"^\s*label_values\(\s*(?P<selector>.*?)\s*,\s*(?P<label>\w+)\s*\)\s*$"
)

Value = str | Sequence[str]


def _regex_escape(value: str) -> str:
    # Escaped for RE2 and then for the PromQL double-quoted string it lands in, exactly like
    # Grafana's Prometheus data source (each metacharacter gets two backslashes in the text).
    return _REGEX_META.sub(r"\\\\\1", value)


def _format(name: str, value: Value, fmt: str | None) -> str:
    values = [value] if isinstance(value, str) else list(value)
    if fmt in (None, "regex"):
        if fmt is None and len(values) == 1:
            return values[0].replace("\\", "\\\\")
        escaped = [_regex_escape(v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt == "pipe":
        return "|".join(values)
    if fmt == "csv":
        return ",".join(values)
    if fmt == "raw":
        return ",".join(values)
    raise ValueError(f"variable {name!r}: format {fmt!r} is not supported")


def substitute_variables(expr: str, values: Mapping[str, Value] | None = None) -> str:
    """``expr`` with Grafana's variables replaced as Grafana's Prometheus data source does.

    Built-ins (``$__rate_interval`` → ``1m``, ``$__interval``, ``$__range`` …) default to
    :data:`BUILTIN_DEFAULTS`; ``values`` overrides them and gives the dashboard's own variables,
    a string for one value or a list for a multi-value selection.  ``${var:regex}`` and plain
    multi-values become an escaped alternation ``(a|b)``; ``:pipe`` and ``:csv`` are joined.

    Raises:
        ValueError: a variable (other than a ``$1``-style regex back-reference, which Grafana
            also leaves alone) has no value.
    """
    given: dict[str, Value] = {**BUILTIN_DEFAULTS, **(values or {})}

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bracket") or match.group("plain")
        fmt = match.group("bformat") or match.group("kformat")
        if name in given:
            return _format(name, given[name], fmt)
        if name.isdigit():
            return match.group(0)
        raise ValueError(f"no value for Grafana variable ${name} in: {expr}")

    return _VARIABLE.sub(replace, expr)


def _panels(dashboard: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", []) if panel.get("type") == "row" else ()


def iter_queries(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """Every PromQL query of ``dashboard`` as ``(panel title, expr, instant)``.

    Covers the targets of every panel, also inside collapsed rows, and the annotation queries
    (titled ``annotation: <name>``, evaluated as range queries).
    """
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            yield str(panel.get("title", "")), str(target["expr"]), bool(target.get("instant"))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if "expr" in annotation:
            yield f"annotation: {annotation.get('name', '')}", str(annotation["expr"]), False


def iter_variable_queries(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """Every ``label_values(selector, label)`` variable as ``(variable name, selector, label)``.

    Raises:
        ValueError: a query variable uses another form (obskit dashboards only use this one).
    """
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        text = query if isinstance(query, str) else str((query or {}).get("query", ""))
        match = _LABEL_VALUES.match(text)
        if match is None:
            raise ValueError(f"variable {variable.get('name')!r}: not label_values(...): {text}")
        yield str(variable["name"]), match.group("selector"), match.group("label")


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects (already substituted; ``ValueError`` if it does not
    parse, or if a selector has no fixed metric name)."""
    tree = promql_parser.parse(expr)
    names: set[str] = set()
    problems: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name
            if not name:
                fixed = [
                    m.value
                    for m in node.matchers.matchers
                    if m.name == "__name__" and m.op == promql_parser.MatchOp.Equal
                ]
                name = fixed[0] if fixed else None
            if name:
                names.add(name)
            else:
                problems.append(f"selector without a fixed metric name: {node}")

    promql_parser.walk(tree, visit)
    if problems:
        raise ValueError("; ".join(problems))
    return names
