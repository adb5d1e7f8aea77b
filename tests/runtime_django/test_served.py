"""The Django project served by real processes on 127.0.0.1: gunicorn (sync workers, WSGI) and
uvicorn (ASGI), spans exported to a test OTLP/HTTP receiver, metrics scraped as OpenMetrics.

The served module is a user's ``wsgi.py``/``asgi.py`` with ``obskit.init()`` on top and nothing
else about obskit (``apps/dj_wsgi.py``, ``apps/dj_asgi.py``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from tests.runtime_django.apps.djproject import ROUTES
from tests.runtime_django.conftest import APPS_DIR
from tests.runtime_e2e._service import Kind, Service, run_service
from tests.support import (
    OtlpReceiver,
    Scrape,
    assert_all_json,
    is_hex_id,
    new_traceparent,
    request_until_close,
)

from obskit import conventions

pytestmark = pytest.mark.e2e

_ENV = {"OBSKIT_SERVICE_NAME": "e2e-django", "PYTHONPATH": str(APPS_DIR)}
#: gunicorn's master never imports the app: its own lines are JSON through obskit's logger class.
DJANGO_GUNICORN = Kind(
    "django-gunicorn",
    "dj_wsgi:application",
    "e2e-django",
    "gunicorn",
    ROUTES,
    extra=("--logger-class", "obskit.GunicornLogger"),
    env=_ENV,
)
#: ``obskit.init()`` in ``settings.py``, the ``wsgi.py`` that ``startproject`` writes.
DJANGO_SETTINGS_INIT = Kind(
    "django-gunicorn-init-in-settings",
    "dj_plain_wsgi:application",
    "e2e-django",
    "gunicorn",
    ROUTES,
    extra=("--logger-class", "obskit.GunicornLogger"),
    env=_ENV,
)
DJANGO_UVICORN = Kind(
    "django-uvicorn", "dj_asgi:application", "e2e-django", "uvicorn", ROUTES, env=_ENV
)


def _unique() -> int:
    return random.randrange(10**8, 10**9)


def _has_exemplar(result: Scrape, route: str, trace_id: str) -> bool:
    return any(
        (s.exemplar or {}).get(conventions.EXEMPLAR_TRACE_ID) == trace_id
        for s in result.exemplars(
            conventions.HTTP_DURATION_BUCKET, **{conventions.LABEL_ROUTE: route}
        )
    )


def _count(result: Scrape, route: str) -> float:
    return sum(
        s.value
        for s in result.find(conventions.HTTP_DURATION_COUNT, **{conventions.LABEL_ROUTE: route})
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    """One OTLP/HTTP receiver for this module's services (spans are found by trace id)."""
    with OtlpReceiver() as r:
        yield r


@pytest.fixture(
    scope="module",
    params=[DJANGO_GUNICORN, DJANGO_SETTINGS_INIT, DJANGO_UVICORN],
    ids=lambda k: k.id,
)
def service(
    request: pytest.FixtureRequest, receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The Django project under gunicorn (WSGI; ``init()`` in ``wsgi.py`` or in ``settings.py``)
    and under uvicorn (ASGI)."""
    kind: Kind = request.param
    with run_service(
        kind, otlp_endpoint=receiver.endpoint, tmp_dir=tmp_path_factory.mktemp(kind.id)
    ) as svc:
        yield svc


def test_request_has_one_trace_id_in_access_line_logs_exemplar_and_span(
    service: Service, receiver: OtlpReceiver
) -> None:
    """One request: its access line (route template, status, ids), the view's structlog and
    stdlib lines, the metric exemplar and the exported server span all carry the same ids; the
    span is named ``GET /items/<int:item_id>``."""
    n = _unique()
    route = ROUTES["items"]
    with service.client() as client:
        assert client.get(f"/items/{n}").status_code == 200
    access = service.access_line(path=f"/items/{n}")
    trace_id, span_id = access["trace_id"], access["span_id"]
    assert is_hex_id(trace_id, 32)
    assert is_hex_id(span_id, 16)
    assert (access["method"], access["route"], access["status"]) == ("GET", route, 200)
    assert access["service"] == "e2e-django"
    [slog] = service.wait_records(
        lambda r: r.get("event") == "item.structlog" and r.get("item_id") == n
    )
    [std] = service.wait_records(lambda r: r.get("event") == f"item.stdlib {n}")
    assert slog["logger"] == "app.structlog"
    assert std["logger"] == "app"
    assert (
        (slog["trace_id"], slog["span_id"])
        == (std["trace_id"], std["span_id"])
        == (trace_id, span_id)
    )
    [span] = receiver.wait_for_trace(trace_id, timeout=15)
    assert span.span_id == span_id
    assert span.kind == "SERVER"
    assert span.name == f"GET {route}"
    assert span.attributes.get("http.route") == route
    assert span.attributes.get("http.response.status_code") == 200
    assert span.resource.get("service.name") == "e2e-django"
    service.wait_scrape(lambda s: _has_exemplar(s, route, trace_id), timeout=10, what="exemplar")


def test_incoming_traceparent_is_continued(service: Service, receiver: OtlpReceiver) -> None:
    """A sampled incoming ``traceparent``: the access line, the view's log line and the exported
    span carry the caller's trace id; the span's parent is the caller's span."""
    n, parent = _unique(), new_traceparent(sampled=True)
    with service.client() as client:
        response = client.get(f"/items/{n}", headers={"traceparent": parent.header})
    assert response.status_code == 200
    access = service.access_line(path=f"/items/{n}")
    assert access["trace_id"] == parent.trace_id
    [line] = service.wait_records(
        lambda r: r.get("event") == "item.structlog" and r.get("item_id") == n
    )
    assert line["trace_id"] == parent.trace_id
    [span] = receiver.wait_for_trace(parent.trace_id, timeout=15)
    assert span.parent_span_id == parent.parent_span_id
    assert span.name == f"GET {ROUTES['items']}"


def test_scanner_paths_leave_one_unmatched_route_value(service: Service) -> None:
    """200 random scanner paths (all 404 in Django) add no ``http_route`` value but
    ``conventions.UNMATCHED_ROUTE``; their access lines say so too."""
    rng = random.Random()
    paths = [
        f"/{rng.randrange(10**12):x}/{rng.choice(['.env', 'wp-login.php', 'x'])}"
        for _ in range(200)
    ]
    before = _count(service.scrape(), conventions.UNMATCHED_ROUTE)
    with service.client() as client:
        for p in paths:
            assert client.get(p).status_code == 404
    result = service.wait_scrape(
        lambda s: _count(s, conventions.UNMATCHED_ROUTE) >= before + len(paths), timeout=10
    )
    assert _count(result, conventions.UNMATCHED_ROUTE) == before + len(paths)
    routes = result.label_values(conventions.HTTP_DURATION_COUNT, conventions.LABEL_ROUTE)
    assert routes <= {*ROUTES.values(), conventions.UNMATCHED_ROUTE}, routes
    last = service.access_line(path=paths[-1])
    assert last["route"] == conventions.UNMATCHED_ROUTE


def test_view_exception_is_logged_once_as_json_with_the_request_ids(
    service: Service, receiver: OtlpReceiver
) -> None:
    """A raising view: a 500, one ``django.request`` error line with the exception (type,
    message, traceback) and the request's ids, and an ERROR span on the route template."""
    status, _ = request_until_close(service.port, "/boom")
    assert status == 500
    barrier = _unique()
    with service.client() as client:  # every line written before the barrier's is read by then
        assert client.get(f"/items/{barrier}").is_success
    service.access_line(path=f"/items/{barrier}")
    boom = [
        r
        for r in service.records()
        if r.get("logger") == "obskit.access" and r.get("path") == "/boom"
    ]
    access = boom[-1]
    assert (access["route"], access["status"]) == (ROUTES["boom"], 500)
    failures = [r for r in service.records() if "boom-marker" in str(r.get("exception", ""))]
    failures = [r for r in failures if r.get("trace_id") == access["trace_id"]]
    assert len(failures) == 1, failures
    [failure] = failures
    assert (failure["logger"], failure["level"]) == ("django.request", "error")
    assert failure["exception"]["type"] == "RuntimeError"
    assert failure["exception"]["traceback"].startswith("Traceback (most recent call last)")
    assert failure["span_id"] == access["span_id"]
    [span] = receiver.wait_for_trace(access["trace_id"], timeout=15)
    assert span.name == f"GET {ROUTES['boom']}"
    assert span.status_code == "ERROR"


def test_every_output_line_is_json(service: Service) -> None:
    """Everything the server printed — server start-up, Django's ``Not Found`` warning and
    ``Internal Server Error`` with ``DEBUG=True`` (whose default console handler prints plain
    text), access lines — is a JSON object."""
    with service.client() as client:
        assert client.get("/definitely/not/here").status_code == 404
        assert client.get("/boom").status_code == 500
        barrier = _unique()
        assert client.get(f"/items/{barrier}").is_success
    service.access_line(path=f"/items/{barrier}")
    records = assert_all_json(service.proc.texts(), what=service.kind.id)
    assert any(r.get("event") == "Not Found: /definitely/not/here" for r in records)


def _served(
    kind: Kind, tmp: Path, receiver: OtlpReceiver, **env: str
) -> AbstractContextManager[Service]:
    return run_service(kind, otlp_endpoint=receiver.endpoint, tmp_dir=tmp, extra_env=env)


@pytest.mark.parametrize(
    "frameworks", ["true", "false"], ids=["settings-path-and-automatic", "settings-path-only"]
)
def test_settings_path_measures_each_request_once(
    frameworks: str, receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """The documented settings path (route middleware in ``MIDDLEWARE``,
    ``obskit.instrument(get_wsgi_application())``), with the automatic hooks also on or off:
    each request is counted once on its route template, has one access line and one span, and
    the output stays JSON."""
    with _served(
        DJANGO_GUNICORN,
        tmp_path,
        receiver,
        DJ_SETTINGS_PATH="1",
        OBSKIT_INSTRUMENT_FRAMEWORKS=frameworks,
    ) as svc:
        ns = [_unique() for _ in range(5)]
        with svc.client() as client:
            for n in ns:
                assert client.get(f"/items/{n}").status_code == 200
            assert client.get("/nope").status_code == 404
        route = ROUTES["items"]
        result = svc.wait_scrape(lambda s: _count(s, route) >= len(ns), timeout=10)
        assert _count(result, route) == len(ns)
        assert _count(svc.scrape(), conventions.UNMATCHED_ROUTE) == 1
        for n in ns:
            access = svc.access_line(path=f"/items/{n}")  # exactly one each
            assert access["route"] == route
            [span] = receiver.wait_for_trace(access["trace_id"], timeout=15)
            assert span.name == f"GET {route}"
        svc.access_line(path="/nope")
        assert_all_json(svc.proc.texts(), what="settings path")


def test_uvicorn_shutdown_flushes_django_spans(receiver: OtlpReceiver, tmp_path: Path) -> None:
    """Django refuses the ASGI lifespan protocol; obskit answers it for Django's handler, so the
    spans still queued when uvicorn stops (export delay 60 s here) are exported at shutdown."""
    with _served(DJANGO_UVICORN, tmp_path, receiver, OTEL_BSP_SCHEDULE_DELAY="60000") as svc:
        n = _unique()
        with svc.client() as client:
            assert client.get(f"/items/{n}").status_code == 200
        trace_id = svc.access_line(path=f"/items/{n}")["trace_id"]
        assert receiver.spans_for(trace_id) == []  # still queued
        svc.proc.stop()
        [span] = receiver.wait_for_trace(trace_id, timeout=15)
        assert span.name == f"GET {ROUTES['items']}"
        texts = svc.proc.texts()
        assert not [t for t in texts if "lifespan" in t and "unsupported" in t]
        assert_all_json(texts, what="uvicorn shutdown")


def test_two_gunicorn_workers_counts_add_up(receiver: OtlpReceiver, tmp_path: Path) -> None:
    """Django under gunicorn with two sync workers: the scraped count on the route template
    equals the requests sent, and both workers served some of them."""
    kind = Kind(
        "django-gunicorn-2",
        "dj_wsgi:application",
        "e2e-django",
        "gunicorn",
        ROUTES,
        workers=2,
        extra=("--logger-class", "obskit.GunicornLogger"),
        env=_ENV,
    )
    with _served(kind, tmp_path, receiver) as svc:
        pids: set[int] = set()
        sent = 0
        # A new connection per request: the kernel spreads them over the workers. At least 40,
        # and until both workers have served (bounded).
        while sent < 40 or (len(pids) < 2 and sent < 400):
            with svc.client() as client:
                response = client.get(f"/items/{_unique()}")
            assert response.status_code == 200
            pids.add(response.json()["pid"])
            sent += 1
        route = ROUTES["items"]
        result = svc.wait_scrape(lambda s: _count(s, route) >= sent, timeout=10)
        assert _count(result, route) == sent
        assert len(pids) == 2, f"both workers should have served: {pids}"
        assert_all_json(svc.proc.texts(), what=kind.id)
