"""Eight days of counter history with known error ratios, as OpenMetrics for promtool.

One sample per minute per series.  Every minute has a request count and an error count defined
by :func:`minute`, so the true figures over any span are plain sums (:func:`truth`) — the
numbers ``obskit slo status`` must print.  The pattern is chosen so that:

* traffic differs by day (so a mean of ratios would differ from the traffic-weighted ratio);
* an incident four days before the end spends part of the budget (figures far from trivial);
* the last hour burns faster than the rest (each burn-rate window gets its own value), yet no
  alert tier's condition holds at the end (nothing is firing: promtool cannot backfill alerts).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from obskit import conventions as c

DAY = 86400
HOUR = 3600
#: Days of raw history before the end: the 7-day period plus one day for the long windows.
HISTORY_DAYS = 8


@dataclass(frozen=True)
class Shape:
    """The error ratios of one SLI over time (see the module docstring)."""

    baseline: float
    incident: float
    last_hour: float
    incident_hours: int


#: `shop/availability` (99.9 %) and `shop/receipts` (99 %, obskit.observe operation).
AVAILABILITY = Shape(baseline=0.0001, incident=0.02, last_hour=0.003, incident_hours=2)
RECEIPTS = Shape(baseline=0.001, incident=0.05, last_hour=0.02, incident_hours=3)


def requests_per_minute(t: int, end: int) -> float:
    """Traffic of the minute ending at ``t``: 120/min on even days before the end, 360 on odd."""
    return 120.0 if ((end - t) // DAY) % 2 == 0 else 360.0


def error_ratio(shape: Shape, t: int, end: int) -> float:
    """The error ratio of the minute ending at ``t``."""
    ago = end - t
    if ago < HOUR:
        return shape.last_hour
    incident_start = 4 * DAY
    if incident_start - shape.incident_hours * HOUR <= ago < incident_start:
        return shape.incident
    return shape.baseline


def minute(shape: Shape, t: int, end: int) -> tuple[float, float]:
    """(requests, errors) of the minute ending at ``t``."""
    total = requests_per_minute(t, end)
    return total, total * error_ratio(shape, t, end)


def truth(shape: Shape, start: int, end: int, data_end: int) -> tuple[float, float]:
    """(requests, errors) over ``(start, end]``, summed minute by minute."""
    total = errors = 0.0
    for t in range(start + 60, end + 1, 60):
        req, err = minute(shape, t, data_end)
        total += req
        errors += err
    return total, errors


def write_openmetrics(path: Path, end: int) -> None:
    """Write the raw counters of both SLIs for job ``shop`` over ``HISTORY_DAYS`` up to ``end``."""
    start = end - HISTORY_DAYS * DAY
    base = 'job="shop",instance="shop:9464"'

    def http(status: str) -> str:
        return (
            f'{c.HTTP_DURATION_COUNT}{{{base},{c.LABEL_ROUTE}="/checkout",'
            f'{c.LABEL_METHOD}="POST",{c.LABEL_STATUS}="{status}"}}'
        )

    def op(outcome: str) -> str:
        return (
            f'{c.OPERATION_DURATION_COUNT}{{{base},{c.LABEL_OPERATION}="send-receipt",'
            f'{c.LABEL_OUTCOME}="{outcome}"}}'
        )

    lines: list[str] = []
    for family, shape, good_name, bad_name in (
        (c.HTTP_DURATION_COUNT, AVAILABILITY, http("200"), http("500")),
        (c.OPERATION_DURATION_COUNT, RECEIPTS, op(c.OUTCOME_OK), op(c.OUTCOME_ERROR)),
    ):
        lines.append(f"# TYPE {family} unknown")
        for name, bad in ((good_name, False), (bad_name, True)):
            value = 0.0
            for t in range(start, end + 1, 60):
                if t > start:
                    req, err = minute(shape, t, end)
                    value += err if bad else req - err
                lines.append(f"{name} {value!r} {t}")
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")
