"""The structure checker: each rule catches the mistake it is for."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from obskit.dashboards._lint import lint
from obskit.dashboards._service import service_dashboard
from obskit.slo import Service

Dashboard = dict[str, Any]


def _first(dashboard: Dashboard, kind: str) -> Dashboard:
    return next(p for p in dashboard["panels"] if p["type"] == kind)


def _set_expr(kind: str, expr: str) -> Callable[[Dashboard], None]:
    def mutate(d: Dashboard) -> None:
        _first(d, kind)["targets"][0]["expr"] = expr

    return mutate


def _drop_unit(d: Dashboard) -> None:
    del _first(d, "stat")["fieldConfig"]["defaults"]["unit"]


def _overlap(d: Dashboard) -> None:
    _first(d, "timeseries")["gridPos"] = dict(_first(d, "stat")["gridPos"])


def _expand_collapsed(d: Dashboard) -> None:
    next(p for p in d["panels"] if p["type"] == "row" and p["collapsed"])["collapsed"] = False


def _stat_as_range(d: Dashboard) -> None:
    target = _first(d, "stat")["targets"][0]
    target["instant"], target["range"] = False, True


MUTATIONS: list[tuple[str, Callable[[Dashboard], None], str]] = [
    ("old schema", lambda d: d.update(schemaVersion=27), "schemaVersion"),
    ("export wrapper", lambda d: d.update(__inputs=[]), "__inputs"),
    ("uid too long", lambda d: d.update(uid="x" * 41), "uid"),
    ("uid bad chars", lambda d: d.update(uid="a/b"), "uid"),
    (
        "hard-coded data source",
        lambda d: _first(d, "stat").update(datasource={"type": "prometheus", "uid": "P1234"}),
        "data source must be the variable",
    ),
    (
        "no datasource variable",
        lambda d: d["templating"].update(list=d["templating"]["list"][1:]),
        "no `datasource` template variable",
    ),
    (
        "text panel without the variable",
        lambda d: _first(d, "text").pop("datasource"),
        "datasource must be",
    ),
    ("legacy panel type", lambda d: _first(d, "stat").update(type="singlestat"), "panel type"),
    ("missing unit", _drop_unit, "unit"),
    ("overlap", _overlap, "overlaps"),
    ("duplicate ids", lambda d: _first(d, "stat").update(id=1), "duplicate panel ids"),
    ("expanded row holding panels", _expand_collapsed, "expanded row"),
    ("stat as range query", _stat_as_range, "instant"),
    ("30d range", _set_expr("stat", "sum(rate(http_requests_total[30d]))"), "range other than"),
    (
        "rate over a recorded ratio",
        _set_expr("stat", "rate(obskit_slo:burn_rate:ratio[$__rate_interval])"),
        "range over the recorded series",
    ),
    ("subquery", _set_expr("stat", "max_over_time(up[1h:1m])"), "subquery"),
    ("unparseable", _set_expr("stat", "sum(rate(x[$__rate_interval])"), "does not parse"),
    ("undefined variable", _set_expr("stat", 'up{job="$nope"}'), "no value for Grafana variable"),
    ("no description", lambda d: _first(d, "stat").update(description=""), "no description"),
    ("not null id", lambda d: d.update(id=7), "id must be null"),
    (
        "grid too wide",
        lambda d: _first(d, "stat")["gridPos"].update(x=20, w=6),
        "wider than the 24-column grid",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [(m, e) for _, m, e in MUTATIONS], ids=[n for n, _, _ in MUTATIONS]
)
def test_lint_catches_each_mistake(
    checkout: Service, mutate: Callable[[Dashboard], None], expected: str
) -> None:
    """A valid dashboard with one mistake injected yields a problem naming that mistake."""
    dashboard = service_dashboard(checkout)
    assert lint(dashboard) == []
    broken = copy.deepcopy(dashboard)
    mutate(broken)
    problems = lint(broken)
    assert any(expected in problem for problem in problems), problems


def test_lint_rejects_a_non_object() -> None:
    """A JSON array is not a dashboard."""
    assert lint([]) == ["dashboard is not a JSON object"]  # type: ignore[arg-type]
