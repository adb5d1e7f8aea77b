"""PromQL helpers: escaping survives a real parser, and checks flag what they should."""

from __future__ import annotations

import re

import promql_parser
import pytest

from obskit.slo._promql import (
    label_name_problem,
    normalise_window,
    parse_query,
    regex_alternation,
    string_literal,
    value_problem,
)


def _matcher_value(literal: str, op: str = "=") -> str:
    """Parse ``x{a<op><literal>}`` and return the value Prometheus would compare with."""
    expr = promql_parser.parse(f"x{{a{op}{literal}}}")
    (matcher,) = expr.matchers.matchers
    value: str = matcher.value
    return value


@pytest.mark.parametrize("value", ['a"} or vector(1) or x{b="', "back\\slash", "new\nline", "é"])
def test_string_literal_round_trips_any_value(value: str) -> None:
    """Even hostile values stay one string: the parsed matcher value equals the input."""
    assert _matcher_value(string_literal(value)) == value


def test_regex_alternation_matches_route_templates_literally() -> None:
    """Route templates with regex metacharacters match only themselves once parsed."""
    routes = ["/cart/{id}", "/a.b", "/x+(y)|z", "/items/[n]"]
    pattern = _matcher_value(regex_alternation(routes), "=~")
    for route in routes:
        assert re.fullmatch(pattern, route)
    for other in ["/cart/1", "/aXb", "/x", "z", "/items/n"]:
        assert not re.fullmatch(pattern, other)


def test_value_and_label_name_checks() -> None:
    """Quotes, backticks, backslashes, control chars; invalid or reserved label names."""
    assert value_problem("/cart/{id}") is None
    for bad in ['a"b', "a`b", "a\\b", "a\x00b", "a\tb"]:
        assert value_problem(bad) is not None
    assert label_name_problem("team") is None
    for bad in ["9x", "a-b", "__name__", "obskit_service", ""]:
        assert label_name_problem(bad) is not None


def test_window_spellings_are_normalised() -> None:
    """`{{ .window }}` and friends become the exact placeholder."""
    assert normalise_window("rate(x[{{ .window }}]) + rate(y[{{.window  }}])") == (
        "rate(x[{{.window}}]) + rate(y[{{.window}}])"
    )


def test_parse_query_classifies_and_caches() -> None:
    """Single sums, bare selectors and parse failures are told apart; results are cached."""
    assert parse_query("sum(rate(x[{{.window}}]))").single_sum
    assert not parse_query("sum by (a) (rate(x[{{.window}}]))").single_sum
    assert parse_query('x{a="b"}').selector
    assert parse_query("sum(rate(x[{{.window}}])").problem
    assert parse_query("x[{{.window}}]").problem
    assert parse_query("sum(x)") is parse_query("sum(x)")
