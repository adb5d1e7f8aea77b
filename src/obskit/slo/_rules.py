"""Rule generation: the model → Prometheus rule groups (recording rules, then alerts).

Rules of one SLO (see ``docs/slo-rules.md``), in this order:

1. the SLI's 5-minute error and total rates (:data:`RULE_SLI_ERRORS_RATE`,
   :data:`RULE_SLI_TOTAL_RATE`), then its error ratio over every alert window — 5m from those
   two rates, the longer :data:`RECORDED_WINDOWS` from ``sum_over_time`` of them, never a raw
   ``rate(…[3d])`` over every series again;
2. the four alert tiers;
3. the burn rates (one rule, a series per window), the metadata constants, the period ratio, the
   period burn rate and the budget remaining (dashboards' figures).

An events SLO has 20 rules: one group, named ``obskit-<service>-<slo>``, fits Mimir's default
``ruler.max-rules-per-rule-group`` (20).  A group over ``max_rules`` is cut, in that order, into
``obskit-<service>-<slo>``, ``…:2``, ``…:3`` (see :func:`split_group`).

Prometheus (and Thanos, Mimir, ``promtool test rules``) evaluates the rules of one group one
after the other at the same timestamp, and a rule sees the samples the rules before it wrote.
Every rule only reads rules above it, in its own group or in an earlier part of the same SLO; a
read across groups sees the other group's latest evaluation, at most one evaluation interval
old.  Groups of different SLOs are independent and run concurrently.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from obskit import conventions as c
from obskit.slo._errors import SpecError, SpecErrors
from obskit.slo._model import SLO, AlertTier, Service
from obskit.slo._promql import grouped_sum, sum_prefix

__all__ = [
    "DEFAULT_MAX_RULES_PER_GROUP",
    "GROUP_PREFIX",
    "PART_SEPARATOR",
    "RECORDED_WINDOWS",
    "SLI_WINDOWS",
    "Rule",
    "RuleGroup",
    "backfill_groups",
    "fmt_number",
    "service_groups",
    "slo_group",
    "split_group",
]

#: Every window an alert tier reads, shortest first (the Workbook's 5m … 3d).
SLI_WINDOWS: Final = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
#: Prefix of every group obskit writes: ``obskit-<service>-<slo>``.
GROUP_PREFIX: Final = "obskit-"
#: Windows whose error ratio is computed from the recorded 5-minute rates (``sum_over_time``),
#: not from the raw counters: every window but 5m.  Reading every raw series of a service over
#: a window at each evaluation is what makes an SLO expensive (a ``rate(…[3d])`` over 6,000
#: series takes seconds; even 30m and 1h windows decode a chunk per series), while one recorded
#: series per SLO costs next to nothing.  Cost: these windows see a change up to 5 minutes
#: later (docs/slo-rules.md, "How the windows are computed").
RECORDED_WINDOWS: Final = ("30m", "1h", "2h", "6h", "1d", "3d")
#: Mimir's default ``ruler.max-rules-per-rule-group`` (Cortex and GEM share it); 0 = no limit.
DEFAULT_MAX_RULES_PER_GROUP: Final = 20
_ZERO_DURATION_RE: Final = re.compile(r"(?:0+(?:ms|[smhdwy]))+\Z")


@dataclass(frozen=True)
class Rule:
    """One recording rule (``record`` set) or alerting rule (``alert`` set)."""

    expr: str
    labels: tuple[tuple[str, str], ...]
    record: str | None = None
    alert: str | None = None
    #: ``for:`` of an alert; empty means none.
    for_: str = ""
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RuleGroup:
    """A Prometheus rule group (no ``interval``: the ruler's global evaluation interval)."""

    name: str
    rules: tuple[Rule, ...]


def fmt_number(value: float) -> str:
    """A float as a short, exact-enough PromQL literal: 14.4, 0.001, 0.933333333333, 2592000."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".12g")


def _quote(value: str) -> str:
    """A PromQL string literal (values were checked by the loader; escaped again anyway)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _percent(ratio: float) -> str:
    return fmt_number(round(ratio * 100, 6)) + "%"


class _SLORules:
    """Builds the rules of one SLO; kept as a class so each part reads as one short method."""

    def __init__(self, slo: SLO, service: Service) -> None:
        self.slo = slo
        self.sli = slo.sli
        self.budget = fmt_number(slo.error_budget)
        self.sel = (
            f"{{{c.SLO_LABEL_SERVICE}={_quote(slo.service)},{c.SLO_LABEL_SLO}={_quote(slo.name)}}}"
        )
        labels: dict[str, str] = {**service.labels, **slo.labels}
        labels[c.SLO_LABEL_SERVICE] = slo.service
        labels[c.SLO_LABEL_SLO] = slo.name
        labels[c.SLO_LABEL_ID] = slo.id
        #: Grouping labels: every series carries them from its expression (loaders refuse a
        #: static label of the same name; dropped here too, as Pyrra does, so it cannot win).
        self.by = self.sli.group_by
        for name in self.by:
            labels.pop(name, None)
        self.labels = labels
        self.events = self.sli.error_query is not None and self.sli.total_query is not None

    def _record(self, name: str, expr: str, **extra: str) -> Rule:
        return Rule(record=name, expr=expr, labels=tuple(sorted({**self.labels, **extra}.items())))

    # -- 1. SLI ---------------------------------------------------------------------------------

    def _sum(self, template: str, window: str) -> str:
        query = self.sli.render(template, window)
        prefix = sum_prefix(self.by)
        return query if _is_plain_sum(template, prefix) else grouped_sum(query, self.by)

    def _errors(self, window: str) -> str:
        # `or vector(0)`: an error series that never appeared (no 5xx yet) means 0 errors, not
        # "no data"; with no traffic the denominator is 0 or absent, so the ratio stays NaN or
        # absent and no alert can fire.
        assert self.sli.error_query is not None
        errors = self._sum(self.sli.error_query, window)
        if self.by:
            # Grouped: a label-less 0 would match no group.  0 x each group's total gives every
            # group with traffic its own 0 (same labels), and none for a group without traffic.
            return f"({errors} or 0 * {self._total(window)})"
        return f"({errors} or vector(0))"

    def _total(self, window: str) -> str:
        assert self.sli.total_query is not None
        return self._sum(self.sli.total_query, window)

    def sli_rules(self) -> list[Rule]:
        if not self.events:
            # Raw error-ratio SLI: no event counts exist.  `>= 0` drops NaN (a window without
            # traffic) so that one idle night cannot turn the period average into NaN.
            assert self.sli.error_ratio_query is not None
            raw = self.sli.error_ratio_query
            return [
                self._record(c.error_ratio_rule(w), f"({self.sli.render(raw, w)}) >= 0")
                for w in SLI_WINDOWS
            ]
        rules = [
            self._record(c.RULE_SLI_ERRORS_RATE, self._errors("5m")),
            self._record(c.RULE_SLI_TOTAL_RATE, self._total("5m")),
            # The 5m ratio from the two rates just recorded (same timestamp, same group).
            self._record(
                c.error_ratio_rule("5m"),
                f"{c.RULE_SLI_ERRORS_RATE}{self.sel} / {c.RULE_SLI_TOTAL_RATE}{self.sel}",
            ),
        ]
        for window in SLI_WINDOWS[1:]:
            if window in RECORDED_WINDOWS:
                # Traffic-weighted like the period ratio: both rates are recorded at the same
                # timestamps, so the ratio of their sums is errors / requests over the window
                # (each 5m rate counts the 5 minutes before it: the window's edges are smeared
                # over 5 minutes, see docs/slo-rules.md).
                expr = (
                    f"sum_over_time({c.RULE_SLI_ERRORS_RATE}{self.sel}[{window}])\n/\n"
                    f"sum_over_time({c.RULE_SLI_TOTAL_RATE}{self.sel}[{window}])"
                )
            else:
                expr = f"{self._errors(window)}\n/\n{self._total(window)}"
            rules.append(self._record(c.error_ratio_rule(window), expr))
        return rules

    # -- 2. burn rates, metadata, period ----------------------------------------------------------

    def meta_rules(self) -> list[Rule]:
        slo, sel, budget = self.slo, self.sel, self.budget
        # One rule, one series per window (told apart by SLO_LABEL_WINDOW): the same series as
        # one rule per window, six rules fewer, so an SLO fits one Mimir-sized group.
        burn = "\nor\n".join(
            f'label_replace({c.error_ratio_rule(w)}{sel} / {budget}, "{c.SLO_LABEL_WINDOW}", '
            f'"{w}", "", "")'
            for w in SLI_WINDOWS
        )
        rules = [self._record(c.RULE_BURN_RATE, burn)]
        rules += [
            self._record(c.RULE_OBJECTIVE, f"vector({fmt_number(slo.objective_ratio)})"),
            self._record(c.RULE_ERROR_BUDGET, f"vector({budget})"),
            self._record(c.RULE_PERIOD_SECONDS, f"vector({slo.period_days * 86400})"),
        ]
        if self.events:
            # Traffic-weighted: every sample of both 5m-rate series is taken at the same
            # timestamps, so the ratio of their sums is (errors over the period) / (requests over
            # the period); busy hours weigh more than quiet ones.  Reads recorded series only.
            period = (
                f"sum_over_time({c.RULE_SLI_ERRORS_RATE}{sel}[{slo.period}])\n/\n"
                f"sum_over_time({c.RULE_SLI_TOTAL_RATE}{sel}[{slo.period}])"
            )
        else:
            # No event counts: the best available figure is the time-weighted average of the
            # 5-minute ratios (windows without traffic excluded).  Documented as approximate.
            period = f"avg_over_time({c.error_ratio_rule('5m')}{sel}[{slo.period}])"
        burn = f"{c.RULE_PERIOD_BURN_RATE}{sel}"
        # The period burn rate is the share of the budget spent.  A period without any traffic
        # spent nothing: 1, not NaN.  `>= -Inf` drops Prometheus' NaN (0/0) from the first
        # branch.  VictoriaMetrics never stores NaN, so there the 0/0 period ratio and burn rate
        # are *absent*: the fallback must not read them.  Events SLIs fall back on the requests
        # of the period being 0 (both engines agree on that); raw-ratio SLIs never record NaN.
        if self.events:
            idle = f"(sum_over_time({c.RULE_SLI_TOTAL_RATE}{sel}[{slo.period}]) == 0) + 1"
        else:
            idle = f"({burn} != bool {burn}) == 1"
        rules += [
            self._record(c.RULE_PERIOD_ERROR_RATIO, period),
            self._record(c.RULE_PERIOD_BURN_RATE, f"{c.RULE_PERIOD_ERROR_RATIO}{sel} / {budget}"),
            self._record(c.RULE_ERROR_BUDGET_REMAINING, f"(1 - {burn}) >= -Inf\nor\n{idle}"),
        ]
        return rules

    # -- 3. alerts ------------------------------------------------------------------------------

    def alert_rules(self) -> list[Rule]:
        alerting = self.slo.alerting
        rules: list[Rule] = []
        for tier in self.slo.tiers:
            if (tier.severity == "page" and not alerting.page) or (
                tier.severity == "ticket" and not alerting.ticket
            ):
                continue
            rules.append(self._alert(tier))
        return rules

    def _alert(self, tier: AlertTier) -> Rule:
        slo, alerting, sel = self.slo, self.slo.alerting, self.sel
        rate = fmt_number(tier.burn_rate)
        expr = (
            f"(\n  {c.error_ratio_rule(tier.long_window)}{sel} / {self.budget} > {rate}\n"
            f"and\n  {c.error_ratio_rule(tier.short_window)}{sel} / {self.budget} > {rate}\n)"
        )
        if alerting.min_events > 0 and self.events:
            # Minimum-traffic guard: the long window must have seen enough events, so a handful
            # of failed requests at night cannot page anyone.  Events = mean request rate over
            # the window x its length, from the recorded 5m rate (one series) rather than the
            # raw counters again (every route/status/instance series, up to 3 days of them).
            seconds = c.window_seconds(tier.long_window)
            expr += (
                f"\nand on ({', '.join(self.by)})\n"
                f"(avg_over_time({c.RULE_SLI_TOTAL_RATE}{sel}[{tier.long_window}])"
                f" * {seconds} >= {fmt_number(alerting.min_events)})"
            )
        page = tier.severity == "page"
        labels: dict[str, str] = {
            **self.labels,
            **alerting.labels,
            **(alerting.page_labels if page else alerting.ticket_labels),
        }
        # A spec may route with its own `severity` (Sloth migrations keep their routes).
        labels.setdefault(c.ALERT_LABEL_SEVERITY, tier.severity)
        labels[c.SLO_LABEL_SERVICE] = slo.service
        labels[c.SLO_LABEL_SLO] = slo.name
        labels[c.SLO_LABEL_ID] = slo.id
        labels[c.ALERT_LABEL_LONG_WINDOW] = tier.long_window
        labels[c.ALERT_LABEL_SHORT_WINDOW] = tier.short_window
        labels[c.ALERT_LABEL_TIER] = tier.name
        for_ = alerting.page_for if page else alerting.ticket_for
        if _ZERO_DURATION_RE.match(for_.strip()):
            for_ = ""
        return Rule(
            alert=alerting.name,
            expr=expr,
            labels=tuple(sorted(labels.items())),
            for_=for_.strip(),
            annotations=tuple(sorted(self._annotations(tier, page).items())),
        )

    def _annotations(self, tier: AlertTier, page: bool) -> dict[str, str]:
        slo, alerting = self.slo, self.slo.alerting
        rate = fmt_number(tier.burn_rate)
        share_factor = fmt_number(c.window_seconds(tier.long_window) / (slo.period_days * 86400))
        # `query` (a standard Prometheus template function, also in Thanos, Mimir and vmalert)
        # turns the burn rate into the share of the budget the long window consumed.
        share_query = (
            f"{c.error_ratio_rule(tier.long_window)}{self.sel} / {self.budget} * {share_factor}"
        )
        share = f"{{{{ with query `{share_query}` }}}}"
        group = ""
        if self.by:
            # One alert per group: the query reads the alert's own group (printf %q quotes each
            # label value as a PromQL string), and the summary names it.
            matchers = ",".join(f"{name}=%q" for name in self.by)
            values = " ".join(f"$labels.{name}" for name in self.by)
            grouped = share_query.replace(self.sel, self.sel[:-1] + "," + matchers + "}", 1)
            share = f"{{{{ with printf `{grouped}` {values} | query }}}}"
            group = " (" + ", ".join(f"{n}={{{{ $labels.{n} }}}}" for n in self.by) + ")"
        annotations = {
            "summary": (
                f"{slo.service} {slo.name} SLO{group}: error budget burn above {rate}x "
                f"over {tier.long_window} and {tier.short_window} ({tier.severity})"
            ),
            "description": (
                f"The {slo.name} SLO of {slo.service} ({fmt_number(slo.objective)}% over "
                f"{slo.period}) burns its error budget at burn rate {{{{ $value | humanize }}}} "
                f"over the last {tier.long_window} (1 spends exactly the budget in "
                f"{slo.period}), and still above {rate} over the last {tier.short_window}. "
                f"At this rate the last {tier.long_window} consumed "
                f"{share}"
                "{{ . | first | value | humanizePercentage }}{{ end }}"
                f" of the {slo.period} error budget (this {tier.name} tier fires at "
                f"{_percent(tier.budget_consumed)}; at {rate}x the whole budget lasts "
                f"{_lasts(slo.period_days, tier.burn_rate)})."
            ),
        }
        if alerting.runbook_url:
            annotations["runbook_url"] = alerting.runbook_url
        annotations.update(alerting.annotations)
        annotations.update(alerting.page_annotations if page else alerting.ticket_annotations)
        return annotations

    def group(self) -> RuleGroup:
        # Alerts right after what they read, so that a group cut at a rule limit keeps them
        # with (or after) their inputs and the dashboards' figures go last.
        rules = self.sli_rules() + self.alert_rules() + self.meta_rules()
        return RuleGroup(name=f"{GROUP_PREFIX}{self.slo.id}", rules=tuple(rules))


@functools.lru_cache(maxsize=4096)
def _is_plain_sum(query: str, prefix: str = "sum(") -> bool:
    """Whether ``query`` is one ``sum(...)`` without grouping: a single series already — or,
    for a grouped SLO (``prefix`` ``sum by (a, b) (``), one sum by exactly its labels.

    A cheap scan (string literals skipped) that spares ``sum(sum(...))`` in the output; when in
    doubt it answers ``False`` and the query is wrapped, which is always correct.
    """
    if not query.startswith(prefix):
        return False
    start = len(prefix) - 1  # the aggregation's opening parenthesis
    depth, quote, escaped = 0, "", False
    for index, char in enumerate(query[start:], start):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index == len(query) - 1
    return False


def _lasts(period_days: int, burn_rate: float) -> str:
    hours = period_days * 24 / burn_rate
    if hours < 72:
        return f"{fmt_number(round(hours, 1))} hours"
    return f"{fmt_number(round(hours / 24, 1))} days"


def slo_group(slo: SLO, service: Service) -> RuleGroup:
    """All rules of one SLO as one group (see the module docstring), before any split."""
    return _SLORules(slo, service).group()


#: Separates a group's part number from its name: ``:`` cannot occur in an SLO id, so
#: ``obskit-checkout-availability:2`` never collides with an SLO named ``availability-2``.
PART_SEPARATOR: Final = ":"


def split_group(group: RuleGroup, max_rules: int) -> list[RuleGroup]:
    """``group`` cut into consecutive groups of at most ``max_rules`` rules (0: no limit).

    The rules keep their order, which is a dependency order (each rule reads only rules above
    it), so every read across the cut goes from a later part to an earlier one.  The first
    part keeps the group's name, so a group under the limit is unchanged; the others are named
    ``<name>:2``, ``<name>:3`` ….
    """
    if max_rules < 0:
        raise ValueError(f"max_rules must be 0 (no limit) or positive, not {max_rules}")
    rules = group.rules
    if max_rules == 0 or len(rules) <= max_rules:
        return [group]
    return [
        RuleGroup(
            name=f"{group.name}{PART_SEPARATOR}{start // max_rules + 1}" if start else group.name,
            rules=rules[start : start + max_rules],
        )
        for start in range(0, len(rules), max_rules)
    ]


def backfill_groups(groups: list[RuleGroup]) -> list[RuleGroup]:
    """Only the 5-minute rate rules of ``groups`` — all the windows longer than 5m, the
    period ratio and the minimum-traffic guard read — for ``promtool tsdb create-blocks-from
    rules`` when an SLO is added to a service that already has history (docs/slo-rules.md).
    Each group keeps its name; groups without such rules (raw-ratio SLIs) are left out."""
    rates = (c.RULE_SLI_ERRORS_RATE, c.RULE_SLI_TOTAL_RATE)
    result = []
    for group in groups:
        kept = tuple(rule for rule in group.rules if rule.record in rates)
        if kept:
            result.append(RuleGroup(group.name, kept))
    return result


def service_groups(
    service: Service, *, check: bool = True, max_rules: int = DEFAULT_MAX_RULES_PER_GROUP
) -> list[RuleGroup]:
    """Every rule group of a service: each SLO's group in spec order, cut at ``max_rules``
    rules per group (:func:`split_group`; 0 = no limit).

    With ``check`` (the default) every expression is parsed with ``promql_parser``; a generated
    expression that does not parse raises :class:`SpecErrors` naming the SLO's source, so a
    generator bug or an unsupported query never reaches a rule file.
    """
    groups = [slo_group(slo, service) for slo in service.slos]
    # SLOs with alerting.shape "sloth" (Sloth input's default): Sloth's alerts and labels.
    from obskit.slo._sloth_alerts import sloth_shaped

    groups = sloth_shaped(service, groups)
    # Cut last, so that whatever the shape every part respects the limit.
    groups = [part for group in groups for part in split_group(group, max_rules)]
    if check:
        errors = check_groups(service, groups)
        if errors:
            raise SpecErrors(errors)
    return groups


#: Range durations and the per-window rule names: the only tokens in which the expressions of
#: one SLO's windows differ.  Each is a single lexical token (a duration, an identifier) whose
#: value cannot change whether an expression parses, so expressions equal after normalising
#: them parse alike, and each *shape* is parsed once (about half the parser calls of a build).
_RANGE_RE: Final = re.compile(r"\[\d+[smhdwy]\]")
_RATIO_NAME_RE: Final = re.compile(r"ratio_rate\d+[smhdwy]\b")
_PARSED: dict[str, str | None] = {}


def parse_problem(expr: str) -> str | None:
    """Why ``expr`` does not parse as PromQL (``None`` when it does); cached per shape."""
    key = _RATIO_NAME_RE.sub("ratio_rate5m", _RANGE_RE.sub("[5m]", expr))
    if key in _PARSED:
        return _PARSED[key]
    import promql_parser

    problem: str | None = None
    try:
        promql_parser.parse(key)
    except (ValueError, TypeError) as exc:
        problem = str(exc)
    if len(_PARSED) < 100_000:
        _PARSED[key] = problem
    return problem


def check_groups(service: Service, groups: list[RuleGroup]) -> list[SpecError]:
    """Parse every expression of ``groups``; one :class:`SpecError` per broken rule."""
    errors: list[SpecError] = []
    by_group = {f"{GROUP_PREFIX}{slo.id}": slo for slo in service.slos}
    for group in groups:
        slo = by_group.get(group.name.split(PART_SEPARATOR, 1)[0])
        for rule in group.rules:
            problem = parse_problem(rule.expr)
            if problem is not None:
                name = rule.record or rule.alert
                path = slo.source.path if slo else service.source.path
                line = slo.source.line if slo else service.source.line
                errors.append(
                    SpecError(
                        path,
                        line,
                        "sli",
                        f"generated rule {name} does not parse ({problem}); "
                        f"expression: {rule.expr}",
                    )
                )
    return errors


def labels_dict(rule: Rule) -> Mapping[str, str]:
    """A rule's labels as a mapping (tests and dashboards' convenience)."""
    return dict(rule.labels)
