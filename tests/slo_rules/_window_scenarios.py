"""Scenarios for how the windows are computed: groups cut at a rule limit, long windows from
the recorded 5-minute rates under bursty traffic, a fresh deployment, a Prometheus restart."""

from __future__ import annotations

import math
import random

from ._scenarios import DAY, INCIDENT_START, OUTAGE_MINUTES, RPM, Scenario

#: A rule limit small enough that alerts land in a later group than what they read.
CUT = 5
#: Bursty traffic: 36 hours, compared from 6 hours in.
BURSTY_MINUTES, BURSTY_FROM = 36 * 60, 6 * 60
#: Fresh deployment: a day of clean history before the rules first run, then a burst.
DEPLOY_AT, BURST_AFTER, BURST_MINUTES, BURST_RATIO = DAY, 30, 20, 0.02
#: Restart: Prometheus down (no scrape, no rule evaluation) for 20 minutes.
RESTART_DOWN = (370, 390)
HIDDEN_DOWN, HIDDEN_OUTAGE = (360, 380), (362, 377)


def bursty_traffic(seed: int = 11) -> list[tuple[float, float]]:
    """Requests and errors per minute: a daily cycle (20-180/min), one-minute spikes (x8) and
    dips (x0.05), a 0.05 % error floor and error bursts of 3-25 minutes at 2-40 %."""
    rng = random.Random(seed)
    minutes: list[tuple[float, float]] = []
    burst_left, burst_ratio = 0, 0.0
    for minute in range(BURSTY_MINUTES):
        requests = 100 * (1 + 0.8 * math.sin(2 * math.pi * minute / DAY))
        roll = rng.random()
        if roll < 0.03:
            requests *= 8
        elif roll < 0.06:
            requests *= 0.05
        if burst_left == 0 and rng.random() < 1 / 180:
            burst_left, burst_ratio = rng.randint(3, 25), rng.uniform(0.02, 0.4)
        ratio = burst_ratio if burst_left else 0.0005
        burst_left = max(0, burst_left - 1)
        minutes.append((round(requests, 3), round(requests * ratio, 3)))
    return minutes


def fresh_traffic() -> list[tuple[int, float, float]]:
    """A day clean, the rules deployed, 30 minutes later 20 minutes at 2 % errors, 4h clean."""
    return [
        (DEPLOY_AT + BURST_AFTER, RPM, 0.0),
        (BURST_MINUTES, RPM, RPM * BURST_RATIO),
        (4 * 60, RPM, 0.0),
    ]


WINDOW_SCENARIOS: list[Scenario] = [
    # The alert tables again, with every SLO cut at 5 rules per group and the groups evaluated
    # last part first: each read across groups sees the previous evaluation.
    Scenario(
        "cut-outage",
        "cutoutage",
        [(INCIDENT_START, RPM, 0.0), (OUTAGE_MINUTES, RPM, RPM), (7 * 60, RPM, 0.0)],
        max_rules=CUT,
        reverse_groups=True,
    ),
    Scenario(
        "cut-errors2pct",
        "cuterrors",
        [(INCIDENT_START, RPM, 0.0), (2 * 60, RPM, 1.2)],
        max_rules=CUT,
        reverse_groups=True,
    ),
    Scenario(
        "bursty",
        "bursty",
        [],
        periods=(30,),
        per_minute=bursty_traffic(),
        raw_windows=True,
        compare_from=BURSTY_FROM,
    ),
    # The rules first run after a day of history: without a backfill, then with one (a
    # backfill writes exactly the 5-minute rates the rules would have recorded).
    Scenario(
        "fresh",
        "fresh",
        fresh_traffic(),
        periods=(30,),
        unrecorded=(0, DEPLOY_AT),
        raw_windows=True,
        compare_from=DEPLOY_AT,
    ),
    Scenario(
        "backfilled",
        "backfilled",
        fresh_traffic(),
        periods=(30,),
        raw_windows=True,
        compare_from=DEPLOY_AT,
    ),
    # Prometheus down for 20 minutes in the middle of a 100-minute outage.
    Scenario(
        "restart",
        "restart",
        [(350, RPM, 0.0), (100, RPM, RPM), (120, RPM, 0.0)],
        periods=(30,),
        unrecorded=RESTART_DOWN,
        unscraped=RESTART_DOWN,
        raw_windows=True,
        compare_from=RESTART_DOWN[1] + 10,
        after=RESTART_DOWN[1],
    ),
    # ... and down for 20 minutes around a 15-minute outage that starts and ends meanwhile.
    Scenario(
        "restart-hidden",
        "hidden",
        [
            (HIDDEN_OUTAGE[0], RPM, 0.0),
            (HIDDEN_OUTAGE[1] - HIDDEN_OUTAGE[0], RPM, RPM),
            (480 - HIDDEN_OUTAGE[1], RPM, 0.0),
        ],
        periods=(30,),
        unrecorded=HIDDEN_DOWN,
        unscraped=HIDDEN_DOWN,
        raw_windows=True,
        compare_from=HIDDEN_DOWN[1] + 10,
    ),
]
