"""Small builders for classic Grafana dashboard JSON (schemaVersion 39).

Every panel and every query goes through these functions, so the structural rules hold by
construction: the ``${datasource}`` variable on every panel and target, a unit on every numeric
panel, instant queries on stat and table panels, and grid positions handed out by :class:`Grid`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

Json = dict[str, Any]

SCHEMA_VERSION: Final = 39
DATASOURCE_VARIABLE: Final = "datasource"
#: The only data-source reference obskit dashboards ever contain.
DATASOURCE: Final[Json] = {"type": "prometheus", "uid": "${" + DATASOURCE_VARIABLE + "}"}
GRID_WIDTH: Final = 24

_REF_IDS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def ds() -> Json:
    """A fresh copy of the data-source reference (dicts are mutable; never share one)."""
    return dict(DATASOURCE)


def target(
    expr: str,
    ref: int,
    *,
    legend: str = "",
    instant: bool = False,
    table: bool = False,
    exemplar: bool = False,
) -> Json:
    """One Prometheus query of a panel."""
    return {
        "datasource": ds(),
        "editorMode": "code",
        "exemplar": exemplar,
        "expr": expr,
        "format": "table" if table else "time_series",
        "instant": instant,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "refId": _REF_IDS[ref],
    }


def thresholds(base: str, *steps: tuple[float, str]) -> Json:
    """Absolute thresholds: ``base`` colour below the first step."""
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}]
        + [{"color": color, "value": value} for value, color in steps],
    }


def timeseries(
    title: str,
    description: str,
    targets: Sequence[Json],
    *,
    unit: str,
    threshold_steps: Json | None = None,
    threshold_style: str = "off",
    decimals: int | None = None,
    min_value: float | None = None,
) -> Json:
    """A time-series panel (range queries)."""
    defaults: Json = {
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "line",
            "fillOpacity": 0,
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": False,
            "thresholdsStyle": {"mode": threshold_style},
        },
        "thresholds": threshold_steps or thresholds("green"),
        "unit": unit,
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    if min_value is not None:
        defaults["min"] = min_value
    return {
        "datasource": ds(),
        "description": description,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {
                "calcs": ["lastNotNull", "max"],
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": list(targets),
        "title": title,
        "type": "timeseries",
    }


def stat(
    title: str,
    description: str,
    expr: str,
    *,
    unit: str,
    threshold_steps: Json,
    decimals: int | None = None,
    legend: str = "",
) -> Json:
    """A single-value stat panel over one instant query."""
    defaults: Json = {
        "color": {"mode": "thresholds"},
        "thresholds": threshold_steps,
        "unit": unit,
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "datasource": ds(),
        "description": description,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "auto",
        },
        "targets": [target(expr, 0, legend=legend, instant=True)],
        "title": title,
        "type": "stat",
    }


def table(
    title: str,
    description: str,
    targets: Sequence[Json],
    *,
    unit: str,
    overrides: Sequence[Json] = (),
    transformations: Sequence[Json] = (),
    links: Sequence[Json] = (),
    sort_by: str | None = None,
) -> Json:
    """A table panel; every target must be an instant table query."""
    defaults: Json = {
        "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
        "thresholds": thresholds("green"),
        "unit": unit,
    }
    if links:
        defaults["links"] = list(links)
    options: Json = {"cellHeight": "sm", "showHeader": True}
    if sort_by:
        options["sortBy"] = [{"desc": False, "displayName": sort_by}]
    return {
        "datasource": ds(),
        "description": description,
        "fieldConfig": {"defaults": defaults, "overrides": list(overrides)},
        "options": options,
        "targets": list(targets),
        "title": title,
        "transformations": list(transformations),
        "type": "table",
    }


def text(title: str, content: str) -> Json:
    """A markdown text panel (no query, no data source needed)."""
    return {
        # No query, but the data-source reference too: every panel names the variable.
        "datasource": ds(),
        "options": {"content": content, "mode": "markdown"},
        "title": title,
        "type": "text",
    }


def row(title: str, *, collapsed: bool) -> Json:
    """A row; :class:`Grid` fills its ``panels`` when collapsed."""
    return {
        "collapsed": collapsed,
        "datasource": ds(),
        "panels": [],
        "title": title,
        "type": "row",
    }


def override(field: str, *properties: tuple[str, Any]) -> Json:
    """A field override matched by field name."""
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [{"id": key, "value": value} for key, value in properties],
    }


class Grid:
    """Lays panels out left to right, top to bottom on Grafana's 24-column grid.

    Panels get consecutive ids starting at 1, in layout order, so ids are stable across builds.
    Panels placed after a collapsed row go into that row's ``panels`` list (Grafana's layout for
    collapsed rows); panels after an expanded row stay at the top level.
    """

    def __init__(self) -> None:
        self.panels: list[Json] = []
        self._next_id = 1
        self._x = 0
        self._y = 0
        self._line_height = 0
        self._open_row: Json | None = None

    def _newline(self) -> None:
        self._y += self._line_height
        self._x = 0
        self._line_height = 0

    def row(self, panel: Json) -> None:
        """Start a new row (full width, one unit high)."""
        if self._x:
            self._newline()
        if self._open_row is not None:
            # A collapsed row takes one grid unit; its panels live inside it, so the next row
            # follows right below it (Grafana moves them down when the row is expanded).
            self._y = self._open_row["gridPos"]["y"] + 1
        panel["id"] = self._take_id()
        panel["gridPos"] = {"h": 1, "w": GRID_WIDTH, "x": 0, "y": self._y}
        self.panels.append(panel)
        self._y += 1
        self._open_row = panel if panel["collapsed"] else None

    def add(self, panel: Json, *, w: int, h: int) -> None:
        """Place ``panel`` ``w`` columns wide and ``h`` units high."""
        if self._x + w > GRID_WIDTH:
            self._newline()
        panel["id"] = self._take_id()
        panel["gridPos"] = {"h": h, "w": w, "x": self._x, "y": self._y}
        self._x += w
        self._line_height = max(self._line_height, h)
        if self._open_row is not None:
            self._open_row["panels"].append(panel)
        else:
            self.panels.append(panel)

    def _take_id(self) -> int:
        taken = self._next_id
        self._next_id += 1
        return taken


def datasource_variable() -> Json:
    """The ``datasource`` variable every panel and query reads (no hard-coded data-source uid)."""
    return {
        "hide": 0,
        "includeAll": False,
        "label": "Data source",
        "multi": False,
        "name": DATASOURCE_VARIABLE,
        "options": [],
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
        "type": "datasource",
    }


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    tags: Sequence[str],
    grid: Grid,
    variables: Sequence[Json] = (),
    annotations: Sequence[Json] = (),
    time_from: str = "now-24h",
) -> Json:
    """The classic dashboard envelope around ``grid``'s panels."""
    return {
        "annotations": {"list": list(annotations)},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "asDropdown": True,
                "icon": "external link",
                "includeVars": False,
                "keepTime": True,
                "tags": ["obskit"],
                "targetBlank": False,
                "title": "obskit dashboards",
                "tooltip": "",
                "type": "dashboards",
                "url": "",
            }
        ],
        "liveNow": False,
        "panels": grid.panels,
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "tags": sorted(set(tags)),
        "templating": {"list": [datasource_variable(), *variables]},
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }
