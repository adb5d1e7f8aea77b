"""Label cardinality stays bounded under hostile traffic, on every server kind."""

from __future__ import annotations

import random
import string
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from tests.runtime_e2e._service import Service
from tests.support import OtlpReceiver, new_traceparent

from obskit import conventions

pytestmark = pytest.mark.e2e

_SCANNER_REQUESTS = 1000


def _word(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=rng.randint(3, 14)))


def scanner_paths(count: int, seed: int = 3) -> list[str]:
    """Paths of the kind vulnerability scanners and typos send: none is a route of the apps,
    except ``/items/<non-integer>`` which FastAPI matches (and answers 422) and ``/static/...``
    which Flask's built-in static route matches (and answers 404)."""
    rng = random.Random(seed)
    shapes = [
        "/wp-admin/{}.php",
        "/{}",
        "/{}/{}",
        "/.env.{}",
        "/cgi-bin/{}.cgi",
        "/api/v1/{}/{}",
        "/{}.git/config",
        "/phpmyadmin/{}/index.php",
        "/items/{}",
        "/orders/{}/edit",
        "/%7E{}",
        "/static/{}-{}.js",
    ]
    paths = []
    for _ in range(count):
        shape = rng.choice(shapes)
        paths.append(shape.format(*(_word(rng) for _ in range(shape.count("{}")))))
    return paths


def _send(base_url: str, paths: list[str]) -> list[int]:
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        return [client.get(path).status_code for path in paths]


def test_random_scanner_paths_leave_a_handful_of_route_values(service: Service) -> None:
    """1,000 random scanner paths are all recorded, under the fixed unmatched route value or an
    existing template: the ``http_route`` label keeps a handful of values and no raw path."""
    paths = scanner_paths(_SCANNER_REQUESTS)
    before = service.scrape().value(conventions.HTTP_DURATION_COUNT)
    chunks = [paths[i::4] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(lambda chunk: _send(service.base_url, chunk), chunks))
    statuses = [status for part in parts for status in part]
    assert len(statuses) == _SCANNER_REQUESTS
    assert all(s < 500 for s in statuses), sorted(set(statuses))
    assert statuses.count(404) > _SCANNER_REQUESTS * 0.8

    # Every request is counted (none dropped for having an unknown path) ...
    result = service.wait_scrape(
        lambda s: s.value(conventions.HTTP_DURATION_COUNT) >= before + _SCANNER_REQUESTS,
        timeout=20,
        what=f"{_SCANNER_REQUESTS} more requests counted",
    )
    assert result.value(conventions.HTTP_DURATION_COUNT) == before + _SCANNER_REQUESTS
    # ... under a route template of the app or the one fixed unmatched value.
    routes = result.label_values(conventions.HTTP_DURATION_COUNT, conventions.LABEL_ROUTE)
    allowed = {*service.kind.routes.values(), conventions.UNMATCHED_ROUTE}
    assert routes <= allowed, f"unexpected http_route values: {sorted(routes - allowed)[:10]}"
    assert len(routes) <= 8
    for marker in ("wp-admin", "phpmyadmin", ".git", "cgi-bin"):
        assert marker not in result.text, f"a raw scanner path leaked into /metrics: {marker}"

    # The access lines keep the raw path (that is what they are for) with the fixed route value.
    line = service.access_line(path=paths[0])
    assert line["route"] in allowed


def test_nonstandard_methods_are_other_and_probes_are_not_measured(
    service: Service, session_receiver: OtlpReceiver
) -> None:
    """A non-standard method is counted as ``_OTHER`` (never its own label value) and the
    probe path ``/healthz`` yields no metric series, no access line and no span."""
    with service.client() as client:
        client.request("PURGE", "/whoami")
        client.request("MKCALENDAR", "/whoami")
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
        marker = new_traceparent()
        assert client.get("/whoami", headers={"traceparent": marker.header}).status_code == 200

    other = {conventions.LABEL_METHOD: conventions.METHOD_OTHER}
    result = service.wait_scrape(
        lambda s: s.value(conventions.HTTP_DURATION_COUNT, **other) >= 2,
        what="two requests counted with method _OTHER",
    )
    methods = result.label_values(conventions.HTTP_DURATION_COUNT, conventions.LABEL_METHOD)
    assert methods <= conventions.STANDARD_METHODS | {conventions.METHOD_OTHER}, methods
    routes = result.label_values(conventions.HTTP_DURATION_COUNT, conventions.LABEL_ROUTE)
    assert "/healthz" not in routes
    # Both excluded and non-standard requests have passed through by now; the access lines of the
    # _OTHER requests keep the method as received.
    service.wait_records(
        lambda r: r.get("logger") == "obskit.access" and r.get("method") == "MKCALENDAR"
    )
    assert not [
        r
        for r in service.records()
        if r.get("logger") == "obskit.access" and r.get("path") == "/healthz"
    ]
    # Spans are exported in order: once the last request's span is in, a probe's would be too.
    session_receiver.wait_for_trace(marker.trace_id, timeout=15)
    assert not [s for s in session_receiver.spans if s.attributes.get("url.path") == "/healthz"]
