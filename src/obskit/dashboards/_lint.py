"""Structure checks for a Grafana dashboard: what "correct on import, in any Grafana" means here.

:func:`lint` returns a list of problems (empty when the dashboard passes).  It encodes the rules
obskit's dashboards are built to, so the tests — and the end-to-end suite — can check every
generated and committed dashboard without Grafana: classic JSON at schemaVersion ≥ 39, current
panel types only, the ``${datasource}`` variable everywhere, unique ids, a non-overlapping grid,
units, instant queries where a single value is shown, and PromQL that parses and never ranges
over recorded series or whole periods.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from typing import Any, Final

import promql_parser

from obskit.dashboards._ids import UID_PATTERN
from obskit.dashboards._panels import DATASOURCE, DATASOURCE_VARIABLE, GRID_WIDTH, SCHEMA_VERSION
from obskit.dashboards._queries import iter_variable_queries, substitute_variables

ALLOWED_PANEL_TYPES: Final = frozenset(
    {"timeseries", "stat", "gauge", "bargauge", "table", "text", "row"}
)
#: Panels showing numbers: each needs a unit.
NUMERIC_PANEL_TYPES: Final = frozenset({"timeseries", "stat", "gauge", "bargauge", "table"})
#: Panels showing one value per series: their queries must be instant.
INSTANT_PANEL_TYPES: Final = frozenset({"stat", "gauge", "bargauge", "table"})

# The lint substitutes $__rate_interval with an unusual duration, so any other range in a query
# (a literal `[5m]`, a `[30d]`) is recognisable after parsing.
_RATE_INTERVAL_PROBE: Final = "61s"
_ALLOWED_RANGE: Final = datetime.timedelta(seconds=61)


def _walk_json(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield f"{path}.{key}", value
            yield from _walk_json(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk_json(value, f"{path}[{index}]")


def _overlaps(a: Mapping[str, int], b: Mapping[str, int]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def _check_grid(where: str, panel: Mapping[str, Any], problems: list[str]) -> bool:
    pos = panel.get("gridPos")
    if not isinstance(pos, Mapping) or not all(
        isinstance(pos.get(k), int) and not isinstance(pos.get(k), bool) for k in "hwxy"
    ):
        problems.append(f"{where}: gridPos must hold integers h, w, x, y")
        return False
    if pos["h"] <= 0 or not 0 < pos["w"] <= GRID_WIDTH or pos["x"] < 0 or pos["y"] < 0:
        problems.append(f"{where}: gridPos out of range: {dict(pos)}")
        return False
    if pos["x"] + pos["w"] > GRID_WIDTH:
        problems.append(f"{where}: gridPos wider than the 24-column grid: {dict(pos)}")
        return False
    return True


def _check_layer(label: str, panels: list[Mapping[str, Any]], problems: list[str]) -> None:
    placed: list[tuple[str, Mapping[str, int]]] = []
    for panel in panels:
        where = f"{label}panel {panel.get('id')} {panel.get('title', '')!r}"
        if _check_grid(where, panel, problems):
            for other_where, other in placed:
                if _overlaps(panel["gridPos"], other):
                    problems.append(f"{where}: overlaps {other_where}")
            placed.append((where, panel["gridPos"]))


def _check_query(where: str, expr: str, values: Mapping[str, str], problems: list[str]) -> None:
    try:
        text = substitute_variables(expr, {**values, "__rate_interval": _RATE_INTERVAL_PROBE})
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return
    try:
        tree = promql_parser.parse(text)
    except (ValueError, TypeError) as exc:
        problems.append(f"{where}: query does not parse ({exc}): {text}")
        return

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.SubqueryExpr):
            problems.append(f"{where}: subquery (too heavy over long ranges): {expr}")
        elif isinstance(node, promql_parser.MatrixSelector):
            name = node.vector_selector.name or ""
            if ":" in name:
                problems.append(
                    f"{where}: range over the recorded series {name}: read it as recorded"
                )
            if node.range != _ALLOWED_RANGE:
                problems.append(f"{where}: range other than [$__rate_interval]: {expr}")

    promql_parser.walk(tree, visit)


def _check_panel(panel: Mapping[str, Any], values: Mapping[str, str], problems: list[str]) -> None:
    kind = panel.get("type")
    where = f"panel {panel.get('id')} {panel.get('title', '')!r}"
    if kind not in ALLOWED_PANEL_TYPES:
        problems.append(f"{where}: panel type {kind!r} is not one of {sorted(ALLOWED_PANEL_TYPES)}")
    if not panel.get("title"):
        problems.append(f"{where}: no title")
    if panel.get("datasource") != DATASOURCE:
        problems.append(f"{where}: datasource must be {DATASOURCE}")
    if kind in ("row", "text"):
        return
    if not panel.get("description"):
        problems.append(f"{where}: no description (say what the number means and what to do)")
    if kind in NUMERIC_PANEL_TYPES:
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if not isinstance(unit, str) or not unit:
            problems.append(f"{where}: numeric panel without fieldConfig.defaults.unit")
    targets = panel.get("targets")
    if not isinstance(targets, list) or not targets:
        problems.append(f"{where}: no targets")
        return
    ref_ids = [t.get("refId") for t in targets]
    if len(set(ref_ids)) != len(ref_ids) or not all(ref_ids):
        problems.append(f"{where}: refIds must be present and unique: {ref_ids}")
    for target in targets:
        twhere = f"{where} target {target.get('refId')}"
        if target.get("datasource") != DATASOURCE:
            problems.append(f"{twhere}: datasource must be {DATASOURCE}")
        expr = target.get("expr")
        if not isinstance(expr, str) or not expr.strip():
            problems.append(f"{twhere}: empty expr")
            continue
        instant = bool(target.get("instant")) and not target.get("range")
        if kind in INSTANT_PANEL_TYPES and not instant:
            problems.append(f"{twhere}: {kind} panels need instant queries")
        if kind == "timeseries" and instant:
            problems.append(f"{twhere}: time-series panels need range queries")
        _check_query(twhere, expr, values, problems)


def _sample_values(dashboard: Mapping[str, Any]) -> dict[str, str]:
    variables = dashboard.get("templating", {}).get("list", [])
    return {str(v.get("name")): "sample" for v in variables if isinstance(v, Mapping)}


def lint(dashboard: Mapping[str, Any]) -> list[str]:
    """Every structural problem of ``dashboard`` (a parsed dashboard JSON), empty when none."""
    problems: list[str] = []
    if not isinstance(dashboard, Mapping):
        return ["dashboard is not a JSON object"]
    for forbidden in ("__inputs", "__requires", "dashboard"):
        if forbidden in dashboard:
            problems.append(f"{forbidden!r}: not a plain classic dashboard (export/import wrapper)")
    version = dashboard.get("schemaVersion")
    if not isinstance(version, int) or version < SCHEMA_VERSION:
        problems.append(f"schemaVersion must be an integer >= {SCHEMA_VERSION}, got {version!r}")
    uid = dashboard.get("uid")
    if not isinstance(uid, str) or not UID_PATTERN.match(uid):
        problems.append(f"uid must be 1-40 characters of [A-Za-z0-9_-], got {uid!r}")
    if not isinstance(dashboard.get("title"), str) or not dashboard.get("title"):
        problems.append("title missing")
    if dashboard.get("id") is not None:
        problems.append("id must be null (it is internal to one Grafana instance)")
    variables = dashboard.get("templating", {}).get("list", [])
    if not any(
        v.get("name") == DATASOURCE_VARIABLE
        and v.get("type") == "datasource"
        and v.get("query") == "prometheus"
        for v in variables
    ):
        problems.append("no `datasource` template variable of type prometheus")
    for path, value in _walk_json(dashboard, "$"):
        if path.endswith(".datasource") and value != DATASOURCE:
            problems.append(f"{path}: data source must be the variable {DATASOURCE}, got {value}")
    values = _sample_values(dashboard)
    try:
        for name, selector, _label in iter_variable_queries(dashboard):
            _check_query(f"variable {name}", selector, values, problems)
    except ValueError as exc:
        problems.append(str(exc))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if "expr" in annotation:
            _check_query(
                f"annotation {annotation.get('name')!r}", annotation["expr"], values, problems
            )

    panels = dashboard.get("panels")
    if not isinstance(panels, list) or not panels:
        return [*problems, "no panels"]
    ids: list[Any] = []
    _check_layer("", panels, problems)
    for panel in panels:
        ids.append(panel.get("id"))
        _check_panel(panel, values, problems)
        if panel.get("type") != "row":
            continue
        children = panel.get("panels")
        if not isinstance(children, list):
            problems.append(f"row {panel.get('id')}: `panels` must be a list")
            continue
        if not panel.get("collapsed") and children:
            problems.append(f"row {panel.get('id')}: an expanded row must not hold panels")
        if panel.get("collapsed") is None:
            problems.append(f"row {panel.get('id')}: `collapsed` missing")
        _check_layer(f"row {panel.get('id')}: ", children, problems)
        for child in children:
            ids.append(child.get("id"))
            if child.get("type") == "row":
                problems.append(f"row {panel.get('id')}: rows cannot be nested")
            _check_panel(child, values, problems)
    bad_ids = [i for i in ids if not isinstance(i, int) or isinstance(i, bool) or i < 1]
    if bad_ids:
        problems.append(f"panel ids must be positive integers: {bad_ids}")
    duplicates = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    if duplicates:
        problems.append(f"duplicate panel ids: {duplicates}")
    return problems
