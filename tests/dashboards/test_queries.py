"""Variable substitution and query extraction, as the end-to-end suite uses them."""

from __future__ import annotations

import promql_parser
import pytest

from obskit import conventions as c
from obskit.dashboards._queries import (
    iter_queries,
    iter_variable_queries,
    metric_names,
    substitute_variables,
)
from obskit.dashboards._service import service_dashboard
from obskit.slo import Service


def test_builtins_are_replaced_with_grafana_like_values() -> None:
    """$__rate_interval becomes 1m by default, and callers can override it."""
    expr = "rate(x[$__rate_interval]) / $__range_s"
    assert substitute_variables(expr) == "rate(x[1m]) / 3600"
    assert substitute_variables(expr, {"__rate_interval": "2m"}) == "rate(x[2m]) / 3600"


def test_all_variable_syntaxes() -> None:
    """${var}, $var, [[var]] and ${var:regex} are all filled in."""
    expr = 'up{a="$job", b="${job}", c="[[job]]", d=~"${job:regex}"}'
    assert substitute_variables(expr, {"job": "api.v1"}) == (
        'up{a="api.v1", b="api.v1", c="api.v1", d=~"api\\\\.v1"}'
    )


def test_multi_value_regex_is_an_escaped_alternation() -> None:
    """A multi-value selection becomes (a|b) with regex metacharacters escaped for PromQL."""
    text = substitute_variables('x{r=~"${route:regex}"}', {"route": ["/a", "/b/{id}"]})
    assert text == 'x{r=~"(/a|/b/\\\\{id\\\\})"}'
    selector = promql_parser.parse(text)
    assert isinstance(selector, promql_parser.VectorSelector)
    assert selector.matchers.matchers[0].value == "(/a|/b/\\{id\\})"


def test_missing_variable_is_an_error_but_backreferences_stay() -> None:
    """An unfilled variable raises; label_replace's $1 is left alone like Grafana does."""
    with pytest.raises(ValueError, match=r"\$job"):
        substitute_variables('up{job="$job"}')
    assert substitute_variables('label_replace(up, "a", "$1", "b", "(.*)")') == (
        'label_replace(up, "a", "$1", "b", "(.*)")'
    )


def test_metric_names_of_a_query() -> None:
    """Names come from every selector, including __name__ matchers; nameless ones raise."""
    assert metric_names('a / on() group_left b{x="1"} or {__name__="c"}') == {"a", "b", "c"}
    with pytest.raises(ValueError, match="fixed metric name"):
        metric_names('{__name__=~"a|b"}')


def test_iter_queries_reaches_collapsed_rows_and_annotations(checkout: Service) -> None:
    """Queries inside collapsed rows and the annotation query are all listed."""
    titles = [title for title, _expr, _instant in iter_queries(service_dashboard(checkout))]
    assert titles.count("SLI over 28d") == 1  # second SLO: inside a collapsed row
    assert titles[-1] == "annotation: SLO alerts firing"


def test_iter_variable_queries(checkout: Service) -> None:
    """The route variable is reported as selector and label."""
    assert list(iter_variable_queries(service_dashboard(checkout))) == [
        ("route", f'{c.HTTP_DURATION_COUNT}{{job="checkout"}}', c.LABEL_ROUTE)
    ]
