"""The ``/metrics`` exposition of a real service: seconds, the shared buckets, content
negotiation (exemplars only in OpenMetrics), identity and process series."""

from __future__ import annotations

import urllib.request

import pytest
from tests.runtime_e2e._service import Service
from tests.support import parse_openmetrics

from obskit import conventions

pytestmark = pytest.mark.e2e


def test_histogram_uses_the_shared_second_buckets(service: Service) -> None:
    """Every request series has exactly the buckets of ``conventions.buckets()`` (seconds, the
    list the SLO compiler validates thresholds against) plus ``+Inf``, and its sum is seconds."""
    with service.client() as client:
        for i in range(3):
            assert client.get(f"/items/{i}").status_code == 200
    route = {conventions.LABEL_ROUTE: service.kind.route("items")}
    result = service.wait_scrape(
        lambda s: s.value(conventions.HTTP_DURATION_COUNT, **route) >= 3, what="3 requests"
    )
    assert result.types.get(conventions.HTTP_DURATION) == "histogram"
    series = result.find(conventions.HTTP_DURATION_BUCKET, http_response_status_code="200", **route)
    bounds = sorted(float(s.labels["le"]) for s in series)
    assert bounds == [*conventions.buckets(), float("inf")]
    count = result.value(conventions.HTTP_DURATION_COUNT, **route)
    total = result.value(conventions.HTTP_DURATION_SUM, **route)
    assert 0 < total / count < 1.0, f"mean {total / count} is not a request duration in seconds"


def test_classic_text_without_exemplars_unless_openmetrics_is_asked(service: Service) -> None:
    """Without an OpenMetrics ``Accept`` header the endpoint answers the classic text format
    (no exemplar syntax, which would break older scrapers); with it, OpenMetrics."""
    with service.client() as client:
        assert client.get("/items/7").status_code == 200
    with urllib.request.urlopen(service.metrics_url, timeout=5) as response:
        content_type = response.headers.get("Content-Type", "")
        text = response.read().decode()
    assert content_type.startswith("text/plain"), content_type
    assert conventions.HTTP_DURATION_BUCKET in text
    assert " # {" not in text, "exemplars in the classic text format"
    openmetrics = service.scrape()  # fails unless the answer is OpenMetrics
    assert openmetrics.text.rstrip().endswith("# EOF")
    assert parse_openmetrics(openmetrics.text).find(conventions.HTTP_DURATION_COUNT)


def test_service_identity_and_process_series(service: Service) -> None:
    """``target_info`` names the service, version and environment; the process collector's
    series are exposed."""
    result = service.scrape()
    [info] = result.find(conventions.TARGET_INFO)
    assert info.labels.get(conventions.TARGET_INFO_LABEL_SERVICE) == service.kind.service_name
    assert info.labels.get(conventions.TARGET_INFO_LABEL_VERSION) == "1.2.3"
    assert info.labels.get(conventions.TARGET_INFO_LABEL_ENVIRONMENT) == "e2e"
    assert result.find("process_cpu_seconds_total") or result.find("process_cpu_seconds")
