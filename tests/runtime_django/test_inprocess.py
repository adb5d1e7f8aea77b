"""Django in-process, through its real WSGI and ASGI handlers, instrumented by obskit's hooks.

Nothing in the project mentions obskit except the views' logger: the isolated runtime installs
the same framework hooks ``obskit.init()`` does, and the handlers are created afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings
from opentelemetry.trace import StatusCode
from tests.runtime_django.apps.djproject import ROUTE_MIDDLEWARE, ROUTES

import obskit
from obskit import conventions
from obskit.testing import IsolatedRuntime

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


@pytest.fixture
def wsgi(rt: IsolatedRuntime) -> Iterator[httpx.Client]:
    """An HTTP client over a Django WSGI handler created after the runtime was set up."""
    with httpx.Client(
        transport=httpx.WSGITransport(app=WSGIHandler()), base_url="http://testserver"
    ) as client:
        yield client


def _access(rt: IsolatedRuntime) -> list[dict[str, Any]]:
    return [e for e in rt.events if e.get("logger") == "obskit.access"]


def _count(rt: IsolatedRuntime, route: str) -> float | None:
    total = None
    for metric in rt.registry.collect():
        for sample in metric.samples:
            if (
                sample.name == conventions.HTTP_DURATION_COUNT
                and sample.labels.get(conventions.LABEL_ROUTE) == route
            ):
                total = (total or 0.0) + sample.value
    return total


def _route_values(rt: IsolatedRuntime) -> set[str]:
    return {
        sample.labels[conventions.LABEL_ROUTE]
        for metric in rt.registry.collect()
        for sample in metric.samples
        if sample.name == conventions.HTTP_DURATION_COUNT
    }


def test_wsgi_request_route_span_access_line_and_logs_share_ids(
    rt: IsolatedRuntime, wsgi: httpx.Client
) -> None:
    """A Django view behind the WSGI handler: the metric, access line and span carry the route
    template ``/items/<int:item_id>``; the view's structlog and stdlib lines carry the access
    line's trace and span ids, which are the span's."""
    response = wsgi.get("/items/42")
    assert response.status_code == 200
    [access] = _access(rt)
    route = ROUTES["items"]
    assert (access["method"], access["route"], access["path"], access["status"]) == (
        "GET",
        route,
        "/items/42",
        200,
    )
    [span] = rt.exporter.get_finished_spans()
    assert span.name == f"GET {route}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == route
    assert span.attributes["http.response.status_code"] == 200
    ids = (format(span.context.trace_id, "032x"), format(span.context.span_id, "016x"))
    assert (access["trace_id"], access["span_id"]) == ids
    [structlog_line] = [e for e in rt.events if e.get("event") == "item.structlog"]
    [stdlib_line] = [e for e in rt.events if e.get("event") == "item.stdlib 42"]
    assert structlog_line["item_id"] == 42
    assert stdlib_line["item_id"] == 42
    assert (structlog_line["trace_id"], structlog_line["span_id"]) == ids
    assert (stdlib_line["trace_id"], stdlib_line["span_id"]) == ids
    assert _count(rt, route) == 1


def test_route_inside_include_is_the_joined_template(
    rt: IsolatedRuntime, wsgi: httpx.Client
) -> None:
    """A pattern inside ``include()`` reports the joined template, with the leading slash."""
    assert wsgi.get("/api/things/blue-shoe").status_code == 200
    [access] = _access(rt)
    assert access["route"] == ROUTES["things"] == "/api/things/<slug:name>"
    assert rt.exporter.get_finished_spans()[0].name == "GET /api/things/<slug:name>"


def test_unmatched_paths_share_one_route_value(rt: IsolatedRuntime, wsgi: httpx.Client) -> None:
    """Scanner paths Django does not resolve (404) all get ``conventions.UNMATCHED_ROUTE``:
    one label value, spans named after the method only."""
    rng = random.Random(3)
    paths = [f"/{rng.randrange(10**9)}/wp-admin/{rng.randrange(10**6)}.php" for _ in range(40)]
    paths += ["/items/not-an-int", "/api/things/", "/boom/extra"]
    for p in paths:
        assert wsgi.get(p).status_code == 404
    assert {a["route"] for a in _access(rt)} == {conventions.UNMATCHED_ROUTE}
    assert _route_values(rt) == {conventions.UNMATCHED_ROUTE}
    assert _count(rt, conventions.UNMATCHED_ROUTE) == len(paths)
    assert {s.name for s in rt.exporter.get_finished_spans()} == {"GET"}


def test_incoming_traceparent_is_continued(rt: IsolatedRuntime, wsgi: httpx.Client) -> None:
    """A sampled incoming ``traceparent``: the span continues the caller's trace, under the
    caller's span, and the view's log lines carry that trace id."""
    assert wsgi.get("/items/7", headers={"traceparent": TRACEPARENT}).status_code == 200
    [span] = rt.exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT_SPAN_ID
    [access] = _access(rt)
    [line] = [e for e in rt.events if e.get("event") == "item.structlog"]
    assert access["trace_id"] == line["trace_id"] == TRACE_ID


def test_view_exception_logged_with_request_ids_and_recorded_on_span(
    rt: IsolatedRuntime, wsgi: httpx.Client
) -> None:
    """A view that raises: Django answers 500 and logs it once on ``django.request`` through
    obskit's pipeline, with the exception and the request's ids; the span is ERROR with the
    exception recorded; the access line and metric say 500 on the route template."""
    assert wsgi.get("/boom").status_code == 500
    [access] = _access(rt)
    assert (access["route"], access["status"]) == (ROUTES["boom"], 500)
    failures = [e for e in rt.events if "boom-marker" in str(e.get("exception", ""))]
    assert len(failures) == 1, failures
    [failure] = failures
    assert failure["logger"] == "django.request"
    assert failure["level"] == "error"
    assert failure["exception"]["type"] == "RuntimeError"
    assert "boom-marker" in failure["exception"]["message"]
    assert (failure["trace_id"], failure["span_id"]) == (access["trace_id"], access["span_id"])
    [span] = rt.exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes.get("error.type") == "RuntimeError"
    assert [e.name for e in span.events] == ["exception"]


def test_django_loggers_go_through_obskit_not_plain_console(
    rt: IsolatedRuntime, wsgi: httpx.Client
) -> None:
    """With ``DEBUG=True`` Django's default logging puts a plain-text console handler on the
    ``django`` logger; once a handler exists it is gone, ``django.server`` propagates, and a
    ``django.request`` warning (404) arrives as an obskit event with the request's ids."""
    for name in ("django", "django.server", "django.request"):
        logger = logging.getLogger(name)
        assert not [h for h in logger.handlers if type(h) is logging.StreamHandler], name
    assert logging.getLogger("django.server").propagate
    assert wsgi.get("/nope").status_code == 404
    [access] = _access(rt)
    [warning] = [e for e in rt.events if e.get("logger") == "django.request"]
    assert warning["event"] == "Not Found: /nope"
    assert warning["level"] == "warning"
    assert warning["trace_id"] == access["trace_id"]


def test_route_middleware_has_a_public_name_and_the_old_path_still_resolves() -> None:
    """``obskit.django.RouteMiddleware`` (public, in ``__all__``) and the 0.1.0 settings string
    ``obskit._django.RouteMiddleware`` name the one middleware class Django will load."""
    from django.utils.module_loading import import_string

    import obskit.django
    from obskit._runtime.integrations.django import RouteMiddleware

    assert obskit.django.__all__ == ["RouteMiddleware"]
    assert import_string("obskit.django.RouteMiddleware") is RouteMiddleware
    assert import_string("obskit._django.RouteMiddleware") is RouteMiddleware


@pytest.mark.parametrize("middleware", [ROUTE_MIDDLEWARE, "obskit._django.RouteMiddleware"])
def test_settings_path_and_automatic_hooks_together_measure_once(
    rt: IsolatedRuntime, middleware: str
) -> None:
    """The documented settings path (route middleware in ``MIDDLEWARE`` — the public
    ``obskit.django`` path, and the 0.1.0 one existing settings name — and
    ``obskit.instrument(handler)``) on top of the automatic hooks: ``instrument`` returns the
    handler itself, and each request still gives one access line, one span and one count."""
    with override_settings(MIDDLEWARE=[middleware]):
        handler = WSGIHandler()
    app = obskit.instrument(handler)
    assert app is handler
    assert obskit.instrument(app) is handler
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://t") as client:
        for n in range(3):
            assert client.get(f"/items/{n}").status_code == 200
    assert [a["route"] for a in _access(rt)] == [ROUTES["items"]] * 3
    assert [s.name for s in rt.exporter.get_finished_spans()] == [f"GET {ROUTES['items']}"] * 3
    assert _count(rt, ROUTES["items"]) == 3


def test_route_middleware_alone_reports_the_template(rt: IsolatedRuntime) -> None:
    """The route middleware works without the resolver hook: a plain (non-Django-aware) obskit
    WSGI wrapper around a handler whose resolver hook is bypassed still gets the template."""
    from obskit._runtime.http.wsgi import ObskitWSGI

    with override_settings(MIDDLEWARE=[ROUTE_MIDDLEWARE]):
        handler = WSGIHandler()
    # The unpatched Django entry points: the class-level hooks are bypassed on this instance.
    handler.resolve_request = type(handler).resolve_request.__wrapped__.__get__(handler)  # type: ignore[attr-defined]
    unpatched_call = type(handler).__call__.__wrapped__  # type: ignore[attr-defined]
    app = ObskitWSGI(lambda environ, start: unpatched_call(handler, environ, start))
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://t") as client:
        assert client.get("/items/5").status_code == 200
        assert client.get("/nope").status_code == 404
    assert [a["route"] for a in _access(rt)] == [ROUTES["items"], conventions.UNMATCHED_ROUTE]
    assert len(rt.exporter.get_finished_spans()) == 2


async def _asgi_get(app: Any, *paths: str, headers: dict[str, str] | None = None) -> list[int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return [(await client.get(p, headers=headers)).status_code for p in paths]


def test_asgi_handler_route_ids_traceparent_and_errors(rt: IsolatedRuntime) -> None:
    """Django's ASGI handler (sync views run in a thread): route template, a continued
    ``traceparent`` with the view's log lines on the same ids, unmatched paths on one value, and
    a raising view as an ERROR span with the exception recorded (its type as ``error.type``),
    the exception logged with the request's ids."""
    handler = ASGIHandler()
    assert obskit.instrument(handler) is handler
    statuses = asyncio.run(_asgi_get(handler, "/items/9", headers={"traceparent": TRACEPARENT}))
    assert statuses == [200]
    statuses = asyncio.run(_asgi_get(handler, "/nope", "/boom"))
    assert statuses == [404, 500]
    items, nope, boom = _access(rt)
    assert (items["route"], nope["route"], boom["route"]) == (
        ROUTES["items"],
        conventions.UNMATCHED_ROUTE,
        ROUTES["boom"],
    )
    assert items["trace_id"] == TRACE_ID
    [line] = [e for e in rt.events if e.get("event") == "item.structlog"]
    assert (line["trace_id"], line["span_id"]) == (items["trace_id"], items["span_id"])
    spans = rt.exporter.get_finished_spans()
    assert [s.name for s in spans] == [f"GET {ROUTES['items']}", "GET", f"GET {ROUTES['boom']}"]
    assert spans[2].status.status_code == StatusCode.ERROR
    # Handed over by the got_request_exception receiver in the scope, as under WSGI.
    assert spans[2].attributes is not None
    assert spans[2].attributes.get("error.type") == "RuntimeError"
    assert [e.name for e in spans[2].events] == ["exception"]
    assert "boom-marker" in str(spans[2].events[0].attributes)
    assert [s.events for s in spans[:2]] == [(), ()]
    [failure] = [e for e in rt.events if "boom-marker" in str(e.get("exception", ""))]
    assert failure["trace_id"] == boom["trace_id"]


def test_regex_pattern_and_script_name_prefix(rt: IsolatedRuntime) -> None:
    """A ``re_path`` pattern reports its regex without the leading ``^``; a project mounted
    under ``SCRIPT_NAME`` reports ``SCRIPT_NAME + template``, as Flask does."""
    handler = WSGIHandler()
    with httpx.Client(transport=httpx.WSGITransport(app=handler), base_url="http://t") as client:
        assert client.get("/legacy/1999/").status_code == 200
    mounted = httpx.WSGITransport(app=handler, script_name="/shop")
    with httpx.Client(transport=mounted, base_url="http://t") as client:
        # httpx puts the URL path in PATH_INFO, below SCRIPT_NAME
        assert client.get("/items/3").status_code == 200
    assert [a["route"] for a in _access(rt)] == [
        "/legacy/(?P<year>[0-9]{4})/$",
        "/shop/items/<int:item_id>",
    ]


def test_route_middleware_alone_under_asgi(rt: IsolatedRuntime) -> None:
    """The route middleware's async path: a Django ASGI handler with the resolver hook and the
    handler hook bypassed, wrapped in a plain obskit ASGI middleware, reports the template for a
    resolved URL and ``<unmatched>`` for a 404."""
    from obskit._runtime.http.asgi import ObskitASGI

    with override_settings(MIDDLEWARE=[ROUTE_MIDDLEWARE]):
        handler = ASGIHandler()
    handler.resolve_request = type(handler).resolve_request.__wrapped__.__get__(handler)  # type: ignore[attr-defined]
    unpatched_call = type(handler).__call__.__wrapped__  # type: ignore[attr-defined]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await unpatched_call(handler, scope, receive, send)

    assert asyncio.run(_asgi_get(ObskitASGI(app), "/items/5", "/nope")) == [200, 404]
    assert [a["route"] for a in _access(rt)] == [ROUTES["items"], conventions.UNMATCHED_ROUTE]
