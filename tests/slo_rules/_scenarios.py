"""`promtool test rules` scenarios built programmatically from the generated rules.

Each scenario is one job's traffic at 1-minute resolution over up to three simulated days, its
SLOs (a 30-day and a 28-day variant) rendered exactly as `obskit slo build` renders them, in its
own rule and test file; two promtool processes share the files.  Two kinds of checks:

* *measurements*: PromQL over the ``ALERTS`` series promtool records (first and last firing
  time per tier, the period ratio …).  Each query always returns one number, and its test
  expects nothing, so promtool prints every value as ``got: {} <value>``; the Python tests read
  those values and assert on them with tolerances and readable messages;
* *assertions*: ordinary ``alert_rule_test`` entries (exact labels and annotations) that must
  pass in promtool itself.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from obskit import conventions as c
from obskit.slo import Rule, RuleGroup, Service, rule_groups, tiers_for_period
from obskit.slo._render import render_rule_file
from obskit.slo._rules import DEFAULT_MAX_RULES_PER_GROUP, SLI_WINDOWS, fmt_number

from ._models import ERRORS, REQUESTS, events_sli, raw_sli, service, slo

_RULE_NAME_RE = re.compile(r"obskit_slo:[a-z_]+:[a-z_0-9]+")

#: Requests per minute of the steady scenarios (1 request/s).
RPM = 60.0
#: Quiet start: every window up to 6h is full of clean traffic when an incident begins.
INCIDENT_START = 6 * 60
OUTAGE_MINUTES = 90
#: Uneven-traffic days: busy half-days without errors, quiet half-days with 50 % errors.
BUSY_RPM, QUIET_RPM = 100.0, 1.0
DAY = 24 * 60

Segment = tuple[int, float, float]  # (minutes, requests per minute, errors per minute)


@dataclass
class Scenario:
    """One job's traffic and the SLOs evaluated over it, simulated in its own promtool file."""

    key: str
    job: str
    segments: list[Segment]
    periods: tuple[int, ...] = (30, 28)
    min_events: float = 0.0
    #: Extra SLOs beyond p30/p28 (name → {"raw": True} for a raw-ratio SLI).
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Keep only the rules the alerts read (faster; alert behaviour is unchanged because every
    #: rule only reads rules above it).  Off where recorded values are measured.
    prune: bool = True
    #: Cut each SLO's group at this many rules (`obskit slo build --max-rules-per-group`).
    max_rules: int = DEFAULT_MAX_RULES_PER_GROUP
    #: Evaluate the groups last part first, so that every read across groups sees the other
    #: group's previous evaluation (the worst case of a ruler's independent group schedules).
    reverse_groups: bool = False
    #: Per-minute (requests, errors) instead of ``segments`` (bursty traffic).
    per_minute: list[tuple[float, float]] = field(default_factory=list)
    #: Minutes [start, end) during which the 5-minute rate rules do not run (a ruler that is
    #: down, or not deployed yet) — the raw counters are scraped only where ``scraped``.
    unrecorded: tuple[int, int] | None = None
    #: Minutes [start, end) without scraped samples (Prometheus down).
    unscraped: tuple[int, int] | None = None
    #: Also record every window from raw counters (`test:raw_ratio_rate<w>`) and the 30-day
    #: tiers' alerts on them (`RawWindows`), the Sloth way, for comparison.
    raw_windows: bool = False
    #: Minute from which recorded and raw windows are compared (max relative difference).
    compare_from: int = 0
    #: Also measure each tier's first firing at or after this minute.
    after: int | None = None

    @property
    def minutes(self) -> int:
        """Length of the simulation."""
        if self.per_minute:
            return len(self.per_minute)
        return sum(m for m, _, _ in self.segments)

    @property
    def slo_names(self) -> list[str]:
        """Every SLO of the scenario's service."""
        return [f"p{days}" for days in self.periods] + list(self.extra)


def _burn(rate: float, objective: float = 99.9) -> float:
    """Errors per minute for a steady burn ``rate`` at :data:`RPM`."""
    return RPM * rate * (100 - objective) / 100


SCENARIOS: list[Scenario] = [
    # 0.9x for three days: the two 3-day simulations are the slow ones, one file each so the
    # two promtool processes share them.
    Scenario("burn09-30d", "burn09", [(3 * DAY, RPM, _burn(0.9))], periods=(30,)),
    Scenario("burn09-28d", "burn09", [(3 * DAY, RPM, _burn(0.9))], periods=(28,)),
    Scenario("burn2", "burn2", [(DAY, RPM, _burn(2.0))]),
    Scenario(
        "outage",
        "outage",
        [(INCIDENT_START, RPM, 0.0), (OUTAGE_MINUTES, RPM, RPM), (7 * 60, RPM, 0.0)],
    ),
    Scenario("errors2pct", "errors2pct", [(INCIDENT_START, RPM, 0.0), (2 * 60, RPM, 1.2)]),
    Scenario("idle", "idle", [(DAY, 0.0, 0.0)], prune=False),
    # 2 a.m.: after hours of silence, 5 requests in 5 minutes and 3 of them fail.
    Scenario(
        "lowtraffic",
        "lowtraffic",
        [(INCIDENT_START, 0.0, 0.0), (3, 1.0, 1.0), (2, 1.0, 0.0), (6 * 60, 0.0, 0.0)],
        min_events=100,
        extra={"unguarded": {}},
    ),
    Scenario(
        "uneven",
        "uneven",
        [(720, BUSY_RPM, 0.0), (720, QUIET_RPM, QUIET_RPM / 2)],
        periods=(30,),
        extra={"raw30": {"raw": True}},
        prune=False,
    ),
    # Every request fails from the start: every window's ratio is exactly 1 (burn rate 1000),
    # so the alerts' rendered annotations are known exactly.
    Scenario("blackout", "blackout", [(8 * 60, RPM, RPM)], periods=(30,), prune=False),
]


def service_for(scenario: Scenario) -> Service:
    """The scenario's service: SLOs `p30`/`p28` (by period) plus its extras."""
    slos = [
        slo(scenario.job, f"p{days}", events_sli(scenario.job), period_days=days,
            min_events=scenario.min_events)
        for days in scenario.periods
    ]  # fmt: skip
    for name, options in scenario.extra.items():
        sli = raw_sli(scenario.job) if options.get("raw") else events_sli(scenario.job)
        slos.append(slo(scenario.job, name, sli))
    return service(scenario.job, *slos)


def _pruned(groups: list[RuleGroup]) -> list[RuleGroup]:
    """Only the rules the alerts read, across all groups (parts of a cut group included)."""
    needed: set[str] = set()
    result: list[RuleGroup] = []
    for group in reversed(groups):
        kept: list[Rule] = []
        for rule in reversed(group.rules):
            if rule.alert or rule.record in needed:
                kept.append(rule)
                needed.update(_RULE_NAME_RE.findall(rule.expr))
        if kept:
            result.append(RuleGroup(group.name, tuple(reversed(kept))))
    return list(reversed(result))


#: Recording of an error ratio straight from the raw counters, for comparisons.
RAW_RATIO = "test:raw_ratio_rate"


def _gated(groups: list[RuleGroup], minutes: tuple[int, int]) -> list[RuleGroup]:
    """The 5-minute rate rules write nothing during ``minutes`` (they did not run)."""
    start, end = (m * 60 for m in minutes)
    gate = f"and on () (vector(time()) < {start} or vector(time()) >= {end})"
    rates = (c.RULE_SLI_ERRORS_RATE, c.RULE_SLI_TOTAL_RATE)
    return [
        RuleGroup(g.name, tuple(
            Rule(r.expr if r.record not in rates else f"({r.expr})\n{gate}", r.labels,
                 r.record, r.alert, r.for_, r.annotations)
            for r in g.rules
        ))
        for g in groups
    ]  # fmt: skip


RAW_ALERT = "RawWindows"


def _raw_group(scenario: Scenario) -> RuleGroup:
    sel = f'{{job="{scenario.job}"}}'
    rules = [
        Rule(record=f"{RAW_RATIO}{w}", labels=(("job", scenario.job),),
             expr=f"sum(rate({ERRORS}{sel}[{w}])) / sum(rate({REQUESTS}{sel}[{w}]))")
        for w in SLI_WINDOWS
    ]  # fmt: skip
    for tier in tiers_for_period(30):
        rate = fmt_number(tier.burn_rate)
        rules.append(Rule(
            alert=RAW_ALERT,
            expr=(f"{RAW_RATIO}{tier.long_window} / 0.001 > {rate}\n"
                  f"and {RAW_RATIO}{tier.short_window} / 0.001 > {rate}"),
            labels=(("job", scenario.job), (c.ALERT_LABEL_TIER, tier.name)),
            for_="2m" if tier.severity == "page" else "15m",
        ))  # fmt: skip
    return RuleGroup(f"test-raw-{scenario.job}", tuple(rules))


def scenario_groups(scenario: Scenario) -> list[RuleGroup]:
    """The rule groups a scenario evaluates, in promtool's evaluation order."""
    groups = rule_groups(service_for(scenario), max_rules_per_group=scenario.max_rules)
    if scenario.prune:
        groups = _pruned(groups)
    if scenario.unrecorded:
        groups = _gated(groups, scenario.unrecorded)
    if scenario.raw_windows:
        groups.append(_raw_group(scenario))
    return groups


def counter_notation(values: list[float]) -> str:
    """promtool's expanding notation for a counter sampled every minute (``a+bxN`` runs)."""
    parts: list[str] = []
    index = 0
    while index < len(values):
        start = values[index]
        step = values[index + 1] - start if index + 1 < len(values) else 0.0
        end = index + 1
        while end < len(values) and abs(values[end] - values[end - 1] - step) < 1e-9:
            end += 1
        count = end - index - 1
        parts.append(f"{fmt_number(round(start, 6))}+{fmt_number(round(step, 6))}x{count}")
        index = end
    return " ".join(parts)


def _counters(scenario: Scenario) -> tuple[list[float], list[float]]:
    steps = scenario.per_minute or [
        (rpm, epm) for minutes, rpm, epm in scenario.segments for _ in range(minutes)
    ]
    requests, errors = [0.0], [0.0]
    for rpm, epm in steps:
        requests.append(requests[-1] + rpm)
        errors.append(errors[-1] + epm)
    return requests, errors


def _notation(values: list[float], gap: tuple[int, int] | None) -> str:
    if gap is None:
        return counter_notation(values)
    start, end = gap
    return " ".join([
        counter_notation(values[:start]), f"_x{end - start}", counter_notation(values[end:])
    ])  # fmt: skip


def input_series(scenario: Scenario) -> list[dict[str, str]]:
    """The scenario's request and error counters (with `_` where nothing was scraped)."""
    requests, errors = _counters(scenario)
    gap = scenario.unscraped
    return [
        {"series": f'{REQUESTS}{{job="{scenario.job}"}}', "values": _notation(requests, gap)},
        {"series": f'{ERRORS}{{job="{scenario.job}"}}', "values": _notation(errors, gap)},
    ]


@dataclass(frozen=True)
class Measure:
    """A named PromQL measurement, evaluated at the end of a scenario."""

    key: str
    expr: str


def _alerts(job: str, slo_name: str, extra: str = "") -> str:
    return (
        f'ALERTS{{alertstate="firing",{c.SLO_LABEL_SERVICE}="{job}",'
        f'{c.SLO_LABEL_SLO}="{slo_name}"{extra}}}'
    )


TIERS = ("page-1h", "page-6h", "ticket-1d", "ticket-3d")


def measures(scenario: Scenario) -> list[Measure]:
    """First/last firing minute per SLO and tier (-1: never), plus a few recorded values."""
    span = f"[{scenario.minutes}m:1m]"
    result = []
    for name in scenario.slo_names:
        for tier in TIERS:
            sel = _alerts(scenario.job, name, f',{c.ALERT_LABEL_TIER}="{tier}"')
            for agg, what in (("min", "first"), ("max", "last")):
                result.append(Measure(
                    f"{name}/{tier}/{what}",
                    f"min({agg}_over_time(timestamp({sel}){span})) / 60 or vector(-1)",
                ))  # fmt: skip
    if scenario.after is not None:
        since = f"[{scenario.minutes - scenario.after}m:1m]"
        for name in scenario.slo_names:
            for tier in TIERS:
                sel = _alerts(scenario.job, name, f',{c.ALERT_LABEL_TIER}="{tier}"')
                result.append(Measure(
                    f"{name}/{tier}/first_after",
                    f"min(min_over_time(timestamp({sel}){since})) / 60 or vector(-1)",
                ))  # fmt: skip
    if scenario.raw_windows:
        result += _comparisons(scenario)
    if not scenario.prune:
        for name in scenario.slo_names:
            sel = f'{{{c.SLO_LABEL_SERVICE}="{scenario.job}",{c.SLO_LABEL_SLO}="{name}"}}'
            ratio_1h = f"{c.error_ratio_rule('1h')}{sel}"
            result += [
                Measure(f"{name}/period_ratio",
                        f"min({c.RULE_PERIOD_ERROR_RATIO}{sel}) or vector(-1)"),
                Measure(f"{name}/budget_remaining",
                        f"min({c.RULE_ERROR_BUDGET_REMAINING}{sel}) or vector(-1)"),
                Measure(f"{name}/ratio_1h_nan", f"count({ratio_1h} != {ratio_1h}) or vector(0)"),
                # One series per recording rule: every rule evaluated without a runtime error.
                Measure(f"{name}/recorded_series",
                        f'count({{__name__=~"obskit_slo:.+",{sel[1:]}) or vector(0)'),
            ]  # fmt: skip
    return result


def _comparisons(scenario: Scenario) -> list[Measure]:
    """Recorded vs raw windows of the first SLO, and the raw-window alerts' firing times."""
    sel = f'{{{c.SLO_LABEL_SERVICE}="{scenario.job}",{c.SLO_LABEL_SLO}="{scenario.slo_names[0]}"}}'
    span = f"[{scenario.minutes - scenario.compare_from}m:1m]"
    result = []
    for window in SLI_WINDOWS[1:]:
        recorded = f"sum({c.error_ratio_rule(window)}{sel})"
        raw = f"sum({RAW_RATIO}{window})"
        hi = f"sum(max_over_time({RAW_RATIO}{window}[5m]))"
        lo = f"sum(min_over_time({RAW_RATIO}{window}[5m]))"
        result += [
            # The recorded ratio is a traffic-weighted mean of the raw ratios of the windows
            # ending 0-4 minutes ago, so it lies between their lowest and highest: how far
            # outside that bracket it ever is (relative), and how far from the current raw
            # ratio wherever the raw burn rate is 1 or more.
            Measure(f"above/{window}",
                    f"max_over_time(clamp_min({recorded} / {hi} - 1, 0){span}) or vector(-1)"),
            Measure(f"below/{window}",
                    f"max_over_time(clamp_min(1 - {recorded} / {lo}, 0){span}) or vector(-1)"),
            Measure(f"cmp/{window}",
                    f"max_over_time((abs({recorded} - {raw}) / {raw} and {raw} >= 0.001){span})"
                    " or vector(-1)"),
            Measure(f"recorded/{window}", f"{recorded} or vector(-1)"),
            Measure(f"raw/{window}", f"{raw} or vector(-1)"),
        ]  # fmt: skip
    full = f"[{scenario.minutes}m:1m]"
    for tier in TIERS:
        alert = (
            f'ALERTS{{alertname="{RAW_ALERT}",alertstate="firing",{c.ALERT_LABEL_TIER}="{tier}"}}'
        )
        for agg, what in (("min", "first"), ("max", "last")):
            result.append(Measure(
                f"raw/{tier}/{what}",
                f"min({agg}_over_time(timestamp({alert}){full})) / 60 or vector(-1)",
            ))  # fmt: skip
    return result


def write_files(folder: Path, scenario: Scenario) -> Path:
    """The scenario's rule file (as `obskit slo build` renders it) and its measurement test
    file, whose every query expects nothing so that promtool prints each value."""
    groups = scenario_groups(scenario)
    rules = folder / f"{scenario.key}-rules.yaml"
    rules.write_text(render_rule_file(scenario.job, groups, ["scenarios"], "prometheus"))
    test: dict[str, Any] = {
        "interval": "1m",
        "input_series": input_series(scenario),
        "promql_expr_test": [
            {"expr": m.expr, "eval_time": f"{scenario.minutes}m", "exp_samples": []}
            for m in measures(scenario)
        ],
    }
    order = [g.name for g in groups]
    doc = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        # promtool evaluates the groups one after the other at each step, in this order.
        "group_eval_order": order[::-1] if scenario.reverse_groups else order,
        "tests": [test],
    }
    path = folder / f"{scenario.key}-measure.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))
    return path


_SECTION_RE = re.compile(r"^Unit Testing:\s+(\S+)\s*$", re.MULTILINE)
_GOT_RE = re.compile(r"^\s*got: \{\} (\S+)\s*$", re.MULTILINE)


def sections(output: str) -> dict[str, str]:
    """promtool's output split per test file."""
    parts = _SECTION_RE.split(output)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def parse_measurements(scenario: Scenario, output: str) -> dict[str, float]:
    """The ``got:`` values of one scenario's section, keyed by measurement."""
    values = [float(v) for v in _GOT_RE.findall(output)]
    keys = [m.key for m in measures(scenario)]
    if len(values) != len(keys):
        raise AssertionError(f"expected {len(keys)} measurements, promtool printed:\n{output}")
    return dict(zip(keys, values, strict=True))


def run(promtool: str, folder: Path, files: list[Path]) -> subprocess.Popen[str]:
    """Start one promtool on several test files (the caller runs two side by side)."""
    return subprocess.Popen(
        [promtool, "test", "rules", *(f.name for f in files)],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
