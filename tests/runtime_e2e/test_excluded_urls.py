"""``OTEL_PYTHON_EXCLUDED_URLS`` / ``OTEL_PYTHON_<FRAMEWORK>_EXCLUDED_URLS`` on real servers: as
with the OpenTelemetry instrumentations, an excluded URL gets no span and no metric (and, like
``OBSKIT_EXCLUDED_PATHS``, no access line); a framework's own variable replaces the generic one.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.runtime_e2e._service import FLASK_GUNICORN, UVICORN, Kind, Service, run_service
from tests.support import OtlpReceiver, new_traceparent

from obskit import conventions as c

pytestmark = pytest.mark.e2e


def _get(service: Service, path: str) -> str:
    """GET ``path`` with a fresh sampled traceparent; returns its trace id."""
    parent = new_traceparent()
    with service.client() as client:
        assert client.get(path, headers={"traceparent": parent.header}).status_code == 200
    return parent.trace_id


def _check(
    kind: Kind, env: dict[str, str], excluded: str, kept: list[str], receiver: OtlpReceiver,
    tmp_path: Path,
) -> None:  # fmt: skip
    with run_service(
        kind, otlp_endpoint=receiver.endpoint, tmp_dir=tmp_path, extra_env=env
    ) as service:
        skipped = _get(service, excluded)
        traces = [_get(service, path) for path in kept]
        for trace_id in traces:
            receiver.wait_for_trace(trace_id, timeout=15)
        for path in kept:
            service.access_line(path=path)
        scrape = service.wait_scrape(
            lambda s: s.value(c.HTTP_DURATION_COUNT) >= len(kept), what="the kept requests"
        )
        time.sleep(0.5)  # one more export period (100 ms here) for a span that should not come
        assert receiver.spans_for(skipped) == [], f"a span for the excluded {excluded}"
        records = service.records()
    assert scrape.value(c.HTTP_DURATION_COUNT) == len(kept), "the excluded URL was counted"
    paths = {r.get("path") for r in records if r.get("logger") == "obskit.access"}
    assert excluded not in paths
    assert set(kept) <= paths


def test_fastapi_variable_replaces_the_generic_one_under_uvicorn(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """FastAPI app: ``OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`` (regexes searched in the full URL)
    excludes ``/items/7``; the generic variable (``orders``) is replaced by it, so ``/orders/1``
    is still measured."""
    env = {
        "OTEL_PYTHON_EXCLUDED_URLS": "orders",
        "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": r"nothing-here,^http://127\.0\.0\.1:\d+/items/7$",
    }
    _check(UVICORN, env, "/items/7", ["/items/8", "/orders/1"], otlp_receiver, tmp_path)


def test_generic_variable_applies_to_flask_under_gunicorn(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """Flask app without its own variable: the generic ``OTEL_PYTHON_EXCLUDED_URLS`` applies;
    another framework's variable does not."""
    env = {
        "OTEL_PYTHON_EXCLUDED_URLS": "whoami",
        "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": "orders",
    }
    _check(FLASK_GUNICORN, env, "/whoami", ["/orders/1"], otlp_receiver, tmp_path)
