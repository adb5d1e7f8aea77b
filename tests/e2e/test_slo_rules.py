"""The rules ``obskit slo build`` generates, loaded by a real Prometheus scraping the example."""

from __future__ import annotations

import subprocess
import time

import pytest
import yaml

from obskit import conventions as c

from .conftest import (
    EXPECTED_AVAILABILITY_ERROR_RATIO,
    EXPECTED_LATENCY_ERROR_RATIO,
    EXPECTED_SEARCH_ERROR_RATIO,
    Shop,
)

#: Relative tolerance on a measured SLI.  The counts Prometheus holds are exact (the fixture waits
#: until they equal the requests sent, and the first and last samples are taken while no request
#: is in flight), and ``rate()``'s extrapolation scales numerator and denominator alike because
#: the warm-up gives every series the same first-value-to-increase proportion (see
#: ``MEASURED_SCALE``).  What is left is floating-point rounding, so 1 % relative is generous yet
#: catches any wrong selector, status class, route, method or threshold by a wide margin
#: (one error more or less moves these ratios by 3.3 % to 10 %; a 429 not counted, by 33 %).
RELATIVE_TOLERANCE = 0.01


def _groups(shop: Shop) -> dict[str, dict[str, object]]:
    return {g["name"]: g for g in shop.prometheus.api("rules")["groups"]}


def test_every_generated_rule_group_is_loaded_and_healthy(shop: Shop) -> None:
    """Every group of every generated rule file is loaded with all its rules, and after at least
    two further evaluations every rule reports health "ok" and no lastError."""
    expected: dict[str, int] = {}
    for path in shop.rule_files:
        for group in yaml.safe_load(path.read_text())["groups"]:
            expected[group["name"]] = len(group["rules"])
    assert expected, "the build wrote no rule group"

    first = {name: g["lastEvaluation"] for name, g in _groups(shop).items()}
    assert sorted(first) == sorted(expected)
    seen: dict[str, set[object]] = {name: {stamp} for name, stamp in first.items()}
    deadline = time.monotonic() + 20
    while any(len(stamps) < 3 for stamps in seen.values()):
        assert time.monotonic() < deadline, f"groups not evaluated twice more in 20 s: {seen}"
        time.sleep(0.3)
        for name, group in _groups(shop).items():
            seen[name].add(group["lastEvaluation"])

    for name, group in _groups(shop).items():
        rules = group["rules"]
        assert isinstance(rules, list)
        assert len(rules) == expected[name], name
        for rule in rules:
            where = f"{name}: {rule.get('name')} ({rule['type']})"
            assert rule["health"] == "ok", f"{where}: {rule['health']} {rule.get('lastError')}"
            assert not rule.get("lastError"), f"{where}: {rule['lastError']}"


@pytest.mark.parametrize(
    ("service", "slo", "expected"),
    [
        ("checkout", "availability", EXPECTED_AVAILABILITY_ERROR_RATIO),
        ("checkout", "latency", EXPECTED_LATENCY_ERROR_RATIO),
        ("search", "query-errors", EXPECTED_SEARCH_ERROR_RATIO),
    ],
)
def test_short_window_error_ratio_matches_the_injected_ratio(
    shop: Shop, service: str, slo: str, expected: float
) -> None:
    """The 5m error-ratio recording rule equals the injected ratio within RELATIVE_TOLERANCE:
    availability = forced 500s and 429s / requests on /cart/{id} and /checkout; latency = share
    of POST /checkout forced above 0.5 s; search = failed backend queries / all.  Read at the
    moment the measured traffic had been scraped and evaluated, before later tests add traffic."""
    expr = f'{c.error_ratio_rule("5m")}{{obskit_service="{service}", obskit_slo="{slo}"}}'
    result = shop.prometheus.query(expr, at=shop.measured_at)
    assert len(result) == 1, result
    measured = float(result[0]["value"][1])
    print(f"{service}/{slo}: 5m error ratio {measured:.6f}, injected {expected:.6f}")
    assert measured == pytest.approx(expected, rel=RELATIVE_TOLERANCE)

    # The SLI the dashboards show is its complement, and the 5m burn rate its ratio to the budget.
    budget = float(
        shop.prometheus.query(
            f'{c.RULE_ERROR_BUDGET}{{obskit_service="{service}", obskit_slo="{slo}"}}'
        )[0]["value"][1]
    )
    burn = shop.prometheus.query(
        f'{c.RULE_BURN_RATE}{{obskit_service="{service}", obskit_slo="{slo}", '
        f'{c.SLO_LABEL_WINDOW}="5m"}}',
        at=shop.measured_at,
    )
    assert float(burn[0]["value"][1]) == pytest.approx(measured / budget, rel=1e-6)


def test_burn_rate_alerts_fire_for_the_injected_errors(shop: Shop) -> None:
    """With burn rates of 19x-79x the budget (well above every tier's factor) and more than
    ``min_events`` requests, every alert tier of the three SLOs fires — except pages for the
    latency SLO, which the spec declares ``page: false``."""
    expected = {
        ("checkout", "availability", tier)
        for tier in ("page-1h", "page-6h", "ticket-1d", "ticket-3d")
    }
    expected |= {("checkout", "latency", tier) for tier in ("ticket-1d", "ticket-3d")}
    expected |= {
        ("search", "query-errors", tier)
        for tier in ("page-1h", "page-6h", "ticket-1d", "ticket-3d")
    }
    deadline = time.monotonic() + 30
    while True:
        alerts = shop.prometheus.api("alerts")["alerts"]
        firing = {
            (
                a["labels"][c.SLO_LABEL_SERVICE],
                a["labels"][c.SLO_LABEL_SLO],
                a["labels"][c.ALERT_LABEL_TIER],
            )
            for a in alerts
            if a["state"] == "firing"
        }
        if firing >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert firing == expected
    for alert in alerts:
        labels = alert["labels"]
        assert labels[c.ALERT_LABEL_SEVERITY] == labels[c.ALERT_LABEL_TIER].split("-")[0]
        assert alert["annotations"]["summary"]


def test_the_loaded_rule_files_pass_promtool(promtool: str, shop: Shop) -> None:
    """The very rule files this Prometheus loaded (the test copy with shortened ``for:``) pass
    ``promtool check rules`` — so the suite needs promtool as well, and fails without it."""
    result = subprocess.run(
        [promtool, "check", "rules", *map(str, shop.rule_files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(shop.rule_files), result.stdout
