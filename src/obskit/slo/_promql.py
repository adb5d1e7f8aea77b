"""PromQL safety for the spec loaders: parsing, window placeholders, label names and values.

Every query a spec supplies is parsed (with the window placeholder filled) at load time, so a
typo fails the build instead of the Prometheus ruler.  Every value obskit itself splices into a
query (service, selector, route, operation) is checked *and* escaped, so no spec value can
close a PromQL string and add matchers or expressions of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from obskit import conventions as c
from obskit.slo._model import WINDOW_PLACEHOLDER

__all__ = [
    "QueryInfo",
    "group_by_problem",
    "grouped_sum",
    "has_window",
    "label_name_problem",
    "matchers",
    "name_problem",
    "normalise_window",
    "parse_query",
    "regex_alternation",
    "string_literal",
    "sum_prefix",
    "value_problem",
]

#: Sample window used to make a template parseable; any valid duration would do.
_PARSE_WINDOW: Final = "5m"
_WINDOW_RE: Final = re.compile(r"\{\{\s*\.window\s*\}\}")
_LABEL_NAME_RE: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
#: Service and SLO names end up in file names, alert names and label values: keep them tame.
_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
#: Characters that could end a PromQL string (", `, \) or hide in one (control characters).
_UNSAFE_VALUE_RE: Final = re.compile(r"[\"`\\\x00-\x1f\x7f]")
#: RE2 metacharacters, escaped in route templates matched with ``=~``.
_REGEX_META_RE: Final = re.compile(r"([.+*?()|\[\]{}^$])")
#: obskit's own labels on recorded series and alerts; a spec may not set them.
RESERVED_LABEL_PREFIX: Final = "obskit_"
#: Labels obskit (or a Sloth-shaped alert, or Prometheus: ``alertname``) sets on every alert:
#: a grouping label of the same name would be overwritten on the alert, so alerts of different
#: groups would look alike.
_ALERT_LABELS: Final = frozenset(
    {
        c.ALERT_LABEL_SEVERITY,
        c.ALERT_LABEL_LONG_WINDOW,
        c.ALERT_LABEL_SHORT_WINDOW,
        c.ALERT_STATE_LABEL,
        "alertname",
        c.SLOTH_LABEL_ID,
        c.SLOTH_LABEL_SERVICE,
        c.SLOTH_LABEL_SLO,
        c.SLOTH_LABEL_WINDOW,
        c.SLOTH_LABEL_SEVERITY,
    }
)


def normalise_window(query: str) -> str:
    """Spell every ``{{ .window }}`` variant as :data:`WINDOW_PLACEHOLDER`, trim whitespace."""
    return _WINDOW_RE.sub(WINDOW_PLACEHOLDER, query).strip()


def has_window(query: str) -> bool:
    """Whether a (normalised) query contains the window placeholder."""
    return WINDOW_PLACEHOLDER in query


def label_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a label a spec sets (``None`` when it can)."""
    if not _LABEL_NAME_RE.match(name):
        return f"invalid label name {name!r}: must match [a-zA-Z_][a-zA-Z0-9_]*"
    if name.startswith("__"):
        return f"invalid label name {name!r}: names starting with __ are reserved by Prometheus"
    if name.startswith(RESERVED_LABEL_PREFIX):
        return f"label name {name!r} is reserved: obskit sets the {RESERVED_LABEL_PREFIX}* labels"
    return None


def group_by_problem(name: str) -> str | None:
    """Why ``name`` cannot be a grouping label (``None`` when it can).

    A grouping label ends up in ``sum by (…)`` and on every recorded series and alert, so it
    must be a label name a spec may set, and not one obskit writes on its alerts itself.
    """
    problem = label_name_problem(name)
    if problem:
        return problem
    if name in _ALERT_LABELS:
        return f"label name {name!r} is set on every alert by obskit; it cannot be a group label"
    return None


def sum_prefix(group_by: tuple[str, ...]) -> str:
    """``sum(`` or, with grouping labels, ``sum by (a, b) (`` (names already checked)."""
    return f"sum by ({', '.join(group_by)}) (" if group_by else "sum("


def grouped_sum(query: str, group_by: tuple[str, ...]) -> str:
    """``query`` summed ``by`` the grouping labels: one series per group (or one in all)."""
    return f"{sum_prefix(group_by)}{query})"


def value_problem(value: str) -> str | None:
    """Why ``value`` may not be spliced into PromQL (``None`` when it may)."""
    bad = _UNSAFE_VALUE_RE.search(value)
    if bad is None:
        return None
    char = bad.group()
    shown = repr(char) if char in '"`\\' else f"control character {char!r}"
    return f"must not contain {shown}: it could break out of a PromQL string"


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid service or SLO name (``None`` when it is)."""
    if _NAME_RE.match(name):
        return None
    return (
        f"invalid name {name!r}: use letters, digits, '_', '-' and '.', "
        "starting with a letter or digit (at most 128 characters)"
    )


def string_literal(value: str) -> str:
    """``value`` as a double-quoted PromQL string, escaped (defence in depth after checking)."""
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def regex_alternation(values: list[str]) -> str:
    """A PromQL string literal matching exactly one of ``values`` with ``=~``.

    Route templates are full of regex metacharacters (``/cart/{id}``), so each is escaped.
    """
    return string_literal("|".join(_REGEX_META_RE.sub(r"\\\1", v) for v in values))


def matchers(pairs: list[tuple[str, str, str]]) -> str:
    """``[(name, op, literal)]`` → ``name op literal, …`` (literals already quoted)."""
    return ",".join(f"{name}{op}{literal}" for name, op, literal in pairs)


@dataclass(frozen=True)
class QueryInfo:
    """What the loaders need to know about a parsed query template."""

    #: Parse error message, or ``None`` when the query parses.
    problem: str | None = None
    #: The query is a single ``sum(...)`` without ``by``/``without``: exactly one series.
    single_sum: bool = False
    #: The query is a bare instant-vector selector (``metric{…}``), e.g. a raw counter.
    selector: bool = False
    #: The labels a top-level ``sum by (…)`` / ``… by (…)`` aggregation keeps (``()`` for an
    #: aggregation without ``by``); ``None`` when the query is no such aggregation.
    kept: tuple[str, ...] | None = None


_CACHE: dict[str, QueryInfo] = {}


def parse_query(template: str) -> QueryInfo:
    """Parse ``template`` with the window filled in; results are cached per template."""
    info = _CACHE.get(template)
    if info is None:
        info = _CACHE[template] = _parse(template)
    return info


def _parse(template: str) -> QueryInfo:
    # Imported here: the runtime half of obskit never needs the (native) PromQL parser.
    import promql_parser

    try:
        expr = promql_parser.parse(template.replace(WINDOW_PLACEHOLDER, _PARSE_WINDOW))
    except (ValueError, TypeError) as exc:
        reason = str(exc)
        if reason == "invalid promql query":  # the parser's catch-all: say what it usually is
            reason += " (a dangling operator, or a misplaced keyword such as by/on/bool?)"
        return QueryInfo(problem=f"PromQL does not parse: {reason}")
    if isinstance(
        expr,
        promql_parser.MatrixSelector | promql_parser.SubqueryExpr | promql_parser.StringLiteral,
    ):
        return QueryInfo(problem="must return an instant vector, not a range vector or string")
    if isinstance(expr, promql_parser.AggregateExpr):
        single = str(expr.op) == "sum" and expr.modifier is None
        modifier = expr.modifier
        kept: tuple[str, ...] | None = ()
        if modifier is not None:
            by = modifier.type == promql_parser.AggModifierType.By
            kept = tuple(modifier.labels) if by else None
        return QueryInfo(single_sum=single, kept=kept)
    if isinstance(expr, promql_parser.VectorSelector):
        return QueryInfo(selector=True)
    return QueryInfo()
