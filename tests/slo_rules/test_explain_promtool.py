"""`obskit slo explain` agrees with the generated rules, to the minute, in `promtool test rules`.

Every expected time below comes from :func:`obskit.slo._explain.explain_slo` (the function the
CLI prints), never from a number written here: if the rule generation changes how fast an alert
fires or resolves, these tests fail until `window_timing()` (the one place explain models it)
is updated.

The SLOs are the example specs of `slo/` (objectives, periods, tiers, `for:`, `min_events`
exactly as written there), with the SLI swapped for two synthetic counters so promtool can
drive it; a check asserts the swap changes no figure of the explanation.  Each case is one SLO
and one steady error ratio, at 1-minute resolution (scrape = evaluation = 1m, aligned, as
explain's default timing assumes):

* clean traffic as long as the longest long window (3 days with ticket tiers), so every window
  is full when the errors start;
* the error ratio for as long as the slowest tier that fires needs, plus 10 minutes;
* clean traffic until every tier resolved, plus 10 minutes.

Per tier promtool reports the first and last minute `ALERTS{alertstate="firing"}` exists and
how many evaluations it fired; they must equal errors start + `fires_after`, errors end +
`resolves_after` - 1 minute (the last firing evaluation) and the difference + 1 (no flapping).
Tiers explain calls "never" must not fire at all.  Two more cases run checkout's page tiers at
a 30-second resolution (samples and evaluations every 30 s), where explain rounds to 30 s, and
three are blips of one to three minutes, where a tier fires exactly when the blip lasts at least
explain's `shortest_incident` (it then fires after the errors stopped).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from obskit import conventions as c
from obskit.slo._explain import SLOExplanation, Timing, explain_slo, window_timing
from obskit.slo._load import load_paths
from obskit.slo._model import SLO, Service
from obskit.slo._render import render_rule_file
from obskit.slo._rules import service_groups

from ._models import ERRORS, REQUESTS, events_sli
from ._scenarios import _GOT_RE, _alerts, _pruned, counter_notation, run, sections

REPO = Path(__file__).resolve().parents[2]
#: Error ratios explained and simulated besides the total outage.  Chosen so that no window
#: crosses a threshold exactly on an evaluation (a float tie; checked below), and so that each
#: example spec has tiers that fire and tiers that never do.
RATIOS = (1.0, 0.33, 0.061)
MARGIN = 10
#: Steady traffic of every case but the low-traffic one: 1000 requests per minute, so that every
#: counter increment is a whole number.  (promtool expands `a+bxN` by repeated addition: with a
#: fractional step such as 19.8 the expanded values drift above the exact ones, and the next
#: run, starting at the exact value, reads as a counter reset.)
RPS = 1000 / 60
#: 1.5 requests per minute (exact in binary): below the 1h guard of checkout's
#: `min_events: 100` (needs 100/h = 0.0278/s) and above the 6h one (100/6h).
LOW_RPS = 1.5 / 60


@dataclass(frozen=True)
class Case:
    """One example SLO under one steady error ratio, in its own promtool test file."""

    key: str
    slo: SLO
    error_ratio: float
    rps: float
    timing: Timing = field(default_factory=Timing)
    #: Errors last this long (a blip) instead of until every tier that fires has fired.
    blip_seconds: int = 0

    @property
    def explanation(self) -> SLOExplanation:
        """What explain predicts (the public function the CLI prints)."""
        return explain_slo(
            self.slo, [self.error_ratio], timing=self.timing, requests_per_second=self.rps
        )

    @property
    def step(self) -> int:
        """Seconds between samples and between evaluations (both the same here)."""
        return self.timing.evaluation_interval

    def _steps(self, seconds: float) -> int:
        return math.ceil(seconds / self.step)

    @property
    def error_steps(self) -> int:
        if self.blip_seconds:
            return self._steps(self.blip_seconds)
        fired = [o.fires_after for t in self.explanation.tiers for o in t.outcomes if o.fires_after]
        return self._steps(max(fired, default=0) + MARGIN * 60)

    @property
    def after_steps(self) -> int:
        resolved = [
            o.resolves_after for t in self.explanation.tiers for o in t.outcomes if o.resolves_after
        ]
        return self._steps(max(resolved, default=0) + MARGIN * 60)

    @property
    def history_steps(self) -> int:
        """Clean traffic before the errors: the longest long window of the SLO's tiers, so that
        every window is full (3 days for SLOs with ticket tiers)."""
        return self._steps(
            max(c.window_seconds(t.tier.long_window) for t in self.explanation.tiers)
        )

    @property
    def steps(self) -> int:
        return self.history_steps + self.error_steps + self.after_steps


def _example_slos() -> list[tuple[SLO, Service]]:
    services = load_paths([REPO / "slo"])
    return [(s, service) for service in services for s in service.slos]


def _driven(slo: SLO) -> SLO:
    """The example SLO with its SLI replaced by the synthetic counters of job=<service>."""
    return dataclasses.replace(slo, sli=events_sli(slo.service))


def _cases() -> list[Case]:
    cases = []
    for slo, _ in _example_slos():
        driven = _driven(slo)
        for ratio in RATIOS:
            cases.append(Case(f"{slo.id}-{ratio:g}", driven, ratio, RPS))
    # The guard holding a page back: checkout's page tiers at 1.5 requests per minute (its
    # ticket tiers left out of this case, so it needs 6 hours of history instead of 3 days).
    checkout = next(s for s, _ in _example_slos() if s.id == "checkout-availability")
    pages_only = dataclasses.replace(checkout.alerting, ticket=False)
    driven = dataclasses.replace(_driven(checkout), alerting=pages_only)
    cases.append(Case("checkout-availability-lowtraffic", driven, 1.0, LOW_RPS))
    # Another resolution: scrapes and evaluations every 30 s (explain --evaluation-interval 30s
    # --scrape-interval 30s), same page tiers.
    half = Timing(evaluation_interval=30, scrape_interval=30)
    for ratio in RATIOS[::2]:
        cases.append(Case(f"checkout-availability-{ratio:g}-30s", driven, ratio, RPS, half))
    # Blips: errors for a minute or three only.  A tier fires (after the errors stopped, `for:`
    # still counting) exactly when the blip lasts at least explain's `shortest_incident`.
    for ratio, seconds in ((1.0, 60), (0.33, 180), (0.33, 120)):
        key = f"checkout-availability-{ratio:g}-blip{seconds}s"
        cases.append(Case(key, driven, ratio, RPS, blip_seconds=seconds))
    return cases


CASES = _cases()


def _outcome(case: Case, tier_name: str) -> tuple[float | None, float | None, str | None]:
    """(fires_after, resolves_after, why never) of a tier; a blip shorter than the tier's
    shortest incident that fires counts as "never" for this case."""
    tier = next(t for t in case.explanation.tiers if t.tier.name == tier_name)
    o = next(o for o in tier.outcomes if o.error_ratio == case.error_ratio)
    blip = case.error_steps * case.step
    if o.never is None and o.shortest_incident is not None and blip < o.shortest_incident:
        return None, None, "blip_too_short"
    return o.fires_after, o.resolves_after, o.never


def _write(folder: Path, case: Case) -> Path:
    slo = case.slo
    service = Service(slo.service, (slo,), slo.source, selector=(("job", slo.service),))
    groups = _pruned(service_groups(service))
    rules = folder / f"{case.key}-rules.yaml"
    rules.write_text(render_rule_file(slo.service, groups, ["explain"], "prometheus"))
    per_step = round(case.rps * case.step, 6)
    requests, errors = [0.0], [0.0]
    for steps, ratio in ((case.history_steps, 0.0), (case.error_steps, case.error_ratio),
                         (case.after_steps, 0.0)):  # fmt: skip
        for _ in range(steps):
            requests.append(requests[-1] + per_step)
            errors.append(errors[-1] + round(per_step * ratio, 6))
    end = f"{case.steps * case.step}s"
    span = f"[{end}:{case.step}s]"
    tests = []
    for tier in case.explanation.tiers:
        sel = _alerts(slo.service, slo.name, f',{c.ALERT_LABEL_TIER}="{tier.tier.name}"')
        for expr in (
            f"min(min_over_time(timestamp({sel}){span})) or vector(-1)",
            f"min(max_over_time(timestamp({sel}){span})) or vector(-1)",
            f"sum(count_over_time({sel}{span})) or vector(0)",
        ):
            tests.append({"expr": expr, "eval_time": end, "exp_samples": []})
    doc = {
        "rule_files": [rules.name],
        "evaluation_interval": f"{case.step}s",
        "tests": [{
            "interval": f"{case.step}s",
            "input_series": [
                {"series": f'{REQUESTS}{{job="{slo.service}"}}',
                 "values": counter_notation(requests)},
                {"series": f'{ERRORS}{{job="{slo.service}"}}',
                 "values": counter_notation(errors)},
            ],
            "promql_expr_test": tests,
        }],
    }  # fmt: skip
    path = folder / f"{case.key}-measure.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))
    return path


@pytest.fixture(scope="module")
def measured(promtool: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[float]]:
    """promtool's first/last/count per tier of every case (two processes, one per core)."""
    folder = tmp_path_factory.mktemp("explain-promtool")
    files = {case.key: _write(folder, case) for case in CASES}
    # Balance the two processes by simulated length (the 3-day windows dominate the cost).
    order = sorted(CASES, key=lambda case: -case.steps)
    halves: list[list[Path]] = [[], []]
    loads = [0, 0]
    for case in order:
        lighter = loads.index(min(loads))
        halves[lighter].append(files[case.key])
        loads[lighter] += case.steps
    procs = [run(promtool, folder, half) for half in halves]
    output = "".join(p.communicate(timeout=900)[0] for p in procs)
    parts = sections(output)
    result = {}
    for case in CASES:
        text = parts[files[case.key].name]
        assert "err:" not in text, text
        result[case.key] = [float(v) for v in _GOT_RE.findall(text)]
        assert len(result[case.key]) == 3 * len(case.explanation.tiers), text
    return result


def test_driven_slos_explain_like_the_example_specs() -> None:
    """Swapping the example SLI for synthetic counters changes no figure of the explanation
    (same objective, period, tiers, `for:` and guard), so the cases test the specs as written."""
    for slo, _ in _example_slos():
        original = explain_slo(slo, RATIOS[1:], requests_per_second=RPS)
        driven = explain_slo(_driven(slo), RATIOS[1:], requests_per_second=RPS)
        assert original.tiers == driven.tiers, slo.id
        assert original.budget_outage_seconds == driven.budget_outage_seconds


def test_cases_cover_both_periods_every_tier_and_never() -> None:
    """The cases include a 30-day and a 28-day SLO, every tier name, a `for:` of 2m and of 15m,
    tiers that fire and tiers below their threshold, and the low-traffic guard holding a tier
    back — so the agreement tests below exercise each path of explain."""
    periods = {case.slo.period_days for case in CASES}
    assert {28, 30} <= periods
    tiers = {t.tier.name for case in CASES for t in case.explanation.tiers}
    assert tiers == {"page-1h", "page-6h", "ticket-1d", "ticket-3d"}
    fors = {t.for_seconds for case in CASES for t in case.explanation.tiers}
    assert {120.0, 900.0} <= fors
    nevers = {_outcome(case, t.tier.name)[2] for case in CASES for t in case.explanation.tiers}
    assert nevers == {None, "below_threshold", "low_traffic", "blip_too_short"}


@pytest.mark.parametrize("case", CASES, ids=[case.key for case in CASES])
def test_no_threshold_crossing_is_a_float_tie(case: Case) -> None:
    """The chosen ratios cross no threshold exactly on an evaluation (where float rounding, not
    the rules, would decide the evaluation): every predicted crossing falls between two."""
    for tier in case.explanation.tiers:
        share = tier.threshold_ratio / case.error_ratio
        if share >= 1:
            continue
        for window in (tier.tier.long_window, tier.tier.short_window):
            timing = window_timing(window, case.timing)
            for point in (share * timing.span, (1 - share) * timing.span):
                steps = (timing.lag + point) / case.step
                assert abs(steps - round(steps)) > 1e-6, (tier.tier.name, window, point)


@pytest.mark.parametrize("case", CASES, ids=[case.key for case in CASES])
def test_alerts_fire_and_resolve_at_the_minutes_explain_predicts(
    measured: dict[str, list[float]], case: Case
) -> None:
    """For each tier: promtool's first firing evaluation is errors start + explain's
    `fires_after`, its last firing evaluation is errors end + `resolves_after` - one step (the
    evaluation before the one at which it resolves), it fires at every evaluation in between;
    a tier explain calls "never" (below threshold, or held back by the low-traffic guard), or
    whose shortest incident that fires is longer than a blip case's errors, never fires.
    Times in seconds (minutes at the 1m resolution, half-minutes at 30s)."""
    got = measured[case.key]
    step = case.step
    start = case.history_steps * step
    end = start + case.error_steps * step
    for index, tier in enumerate(case.explanation.tiers):
        first, last, count = got[3 * index : 3 * index + 3]
        fires_after, resolves_after, never = _outcome(case, tier.tier.name)
        name = tier.tier.name
        if never is not None:
            assert (first, last, count) == (-1, -1, 0), (name, never, first, last)
            continue
        assert fires_after is not None
        assert resolves_after is not None
        assert first - start == fires_after, (name, "fires after", first - start)
        assert last + step - end == resolves_after, (name, "resolves after", last + step - end)
        assert count == (last - first) / step + 1, (name, "flapped", count)
