"""The conventions module: the one contract between runtime, compiler and dashboards."""

from __future__ import annotations

import pytest

from obskit import conventions as c
from obskit.slo import tiers_for_period


def test_http_histogram_names_follow_the_otel_prometheus_mapping() -> None:
    """The histogram and its series are named after `http.server.request.duration` in seconds."""
    assert c.HTTP_DURATION == "http_server_request_duration_seconds"
    assert c.HTTP_DURATION_BUCKET.endswith("_bucket")
    assert c.HTTP_DURATION_COUNT.endswith("_count")
    assert (c.LABEL_METHOD, c.LABEL_ROUTE, c.LABEL_STATUS) == (
        "http_request_method",
        "http_route",
        "http_response_status_code",
    )


def test_default_buckets_are_otel_seconds_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Default buckets run 5 ms … 10 s, in seconds, ascending."""
    monkeypatch.delenv(c.BUCKETS_ENV, raising=False)
    assert c.buckets()[0] == 0.005
    assert c.buckets()[-1] == 10.0
    assert list(c.buckets()) == sorted(c.buckets())


def test_bucket_override_is_parsed_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    """OBSKIT_HTTP_BUCKETS overrides the boundaries; a descending list is rejected."""
    monkeypatch.setenv(c.BUCKETS_ENV, "0.1, 0.3,1.2")
    assert c.buckets() == (0.1, 0.3, 1.2)
    monkeypatch.setenv(c.BUCKETS_ENV, "1,0.5")
    with pytest.raises(ValueError, match="ascending"):
        c.buckets()


def test_all_is_sorted_and_complete() -> None:
    """`__all__` is sorted and names only attributes that exist."""
    assert c.__all__ == sorted(c.__all__)
    for name in c.__all__:
        assert hasattr(c, name), name


@pytest.mark.parametrize(
    ("days", "expected"),
    [(30, [14.4, 6.0, 3.0, 1.0]), (28, [13.44, 5.6, 2.8, 0.9333333])],
)
def test_burn_rates_rescale_with_the_period(days: int, expected: list[float]) -> None:
    """Other periods keep the budget shares and windows, and rescale the burn rate."""
    tiers = tiers_for_period(days)
    assert [t.burn_rate for t in tiers] == pytest.approx(expected)
    assert [(t.long_window, t.short_window) for t in tiers] == [
        ("1h", "5m"),
        ("6h", "30m"),
        ("1d", "2h"),
        ("3d", "6h"),
    ]


def test_window_seconds() -> None:
    """Prometheus durations convert to seconds; compound durations are refused."""
    assert c.window_seconds("5m") == 300
    assert c.window_seconds("30d") == 30 * 86400
    with pytest.raises(ValueError, match="duration"):
        c.window_seconds("1h30m")
