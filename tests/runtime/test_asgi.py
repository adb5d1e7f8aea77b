"""ASGI middleware in-process: route templates, labels, exclusions, spans, exemplars, access."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.openmetrics.exposition import generate_latest as om_latest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import obskit
from obskit import conventions as c
from obskit.testing import IsolatedRuntime, MetricsReader

from .conftest import TRACEPARENT_SAMPLED, TRACEPARENT_UNSAMPLED

COUNT = c.HTTP_DURATION_COUNT


def call(app: Any, *requests: tuple[str, str], headers: dict[str, str] | None = None) -> list[int]:
    """Send requests through httpx's in-process ASGI transport; returns the status codes."""

    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [(await client.request(m, p, headers=headers)).status_code for m, p in requests]

    return asyncio.run(go())


def count(rt: IsolatedRuntime, **labels: str) -> float | None:
    """The request count for these labels in the isolated registry."""
    from obskit.testing import MetricsReader

    return MetricsReader(rt.registry).value(COUNT, **labels)


def fastapi_app() -> FastAPI:
    """A FastAPI app with a path parameter, a router prefix, a mounted sub-app and an error."""
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    router = APIRouter(prefix="/v1")

    @router.post("/orders/{oid}")
    def order(oid: str) -> dict[str, str]:
        return {"oid": oid}

    app.include_router(router)
    sub = FastAPI()

    @sub.get("/things/{tid}")
    async def thing(tid: str) -> dict[str, str]:
        return {"tid": tid}

    app.mount("/sub", sub)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    @app.get("/healthz")
    async def health() -> str:
        return "ok"

    return app


def test_fastapi_route_templates_and_statuses(rt: IsolatedRuntime) -> None:
    """FastAPI routes, router prefixes and mounted sub-apps are recorded by template."""
    app = fastapi_app()
    statuses = call(
        app,
        ("GET", "/items/1"),
        ("GET", "/items/2"),
        ("POST", "/v1/orders/a"),
        ("GET", "/sub/things/z"),
        ("GET", "/boom"),
    )
    assert statuses == [200, 200, 200, 200, 500]
    assert count(rt, http_route="/items/{item_id}", http_response_status_code="200") == 2
    assert count(rt, http_route="/v1/orders/{oid}", http_request_method="POST") == 1
    assert count(rt, http_route="/sub/things/{tid}") == 1
    assert count(rt, http_route="/boom", http_response_status_code="500") == 1


def test_unmatched_paths_share_one_route_value(rt: IsolatedRuntime) -> None:
    """404 scanner paths (top level and inside a mount) all become <unmatched>."""
    app = fastapi_app()
    paths = [f"/wp-admin/{i}.php" for i in range(50)] + ["/sub/nothing", "/.env"]
    assert set(call(app, *[("GET", p) for p in paths])) == {404}
    routes = {
        s.labels[c.LABEL_ROUTE] for m in rt.registry.collect() for s in m.samples if s.name == COUNT
    }
    assert routes == {c.UNMATCHED_ROUTE}
    assert count(rt, http_route=c.UNMATCHED_ROUTE) == len(paths)


def test_starlette_mounts_and_method_not_allowed(rt: IsolatedRuntime) -> None:
    """Plain Starlette: Route in a Mount(routes=...) gets the prefix; 405 keeps the template."""

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hi")

    app = Starlette(
        routes=[
            Route("/hello/{name}", hello),
            Mount("/api", routes=[Route("/users/{uid}", hello)]),
        ]
    )
    assert call(app, ("GET", "/hello/x"), ("GET", "/api/users/7"), ("POST", "/hello/x")) == [
        200,
        200,
        405,
    ]
    assert count(rt, http_route="/hello/{name}", http_response_status_code="200") == 1
    assert count(rt, http_route="/api/users/{uid}") == 1
    assert count(rt, http_route="/hello/{name}", http_response_status_code="405") == 1


def test_nonstandard_method_is_other(rt: IsolatedRuntime) -> None:
    """A method outside the standard set is recorded as _OTHER (bounded cardinality)."""
    app = fastapi_app()
    call(app, ("FOOBAR", "/items/1"))
    assert count(rt, http_request_method=c.METHOD_OTHER) == 1
    (access,) = [e for e in rt.events if e["logger"] == "obskit.access"]
    assert access["method"] == "FOOBAR"


def test_excluded_paths_leave_no_trace(rt: IsolatedRuntime) -> None:
    """Health and metrics paths: no metric, no span, no access line."""
    app = fastapi_app()
    statuses = call(app, ("GET", "/healthz"), ("GET", "/healthz/"), ("GET", "/metrics"))
    assert statuses[0] == 200
    assert statuses[2] == 404
    assert count(rt) is None
    assert rt.exporter.get_finished_spans() == ()
    assert [e for e in rt.events if e["logger"] == "obskit.access"] == []


def test_server_span_attributes_and_incoming_traceparent(rt: IsolatedRuntime) -> None:
    """One SERVER span per request named 'METHOD /template', continuing the incoming trace."""
    app = fastapi_app()
    call(app, ("GET", "/items/5?token=abc&q=1"), headers={"traceparent": TRACEPARENT_SAMPLED})
    (span,) = rt.exporter.get_finished_spans()
    assert span.name == "GET /items/{item_id}"
    assert span.kind is SpanKind.SERVER
    assert format(span.context.trace_id, "032x") == TRACEPARENT_SAMPLED.split("-")[1]
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == "b7ad6b7169203331"
    attrs = dict(span.attributes or {})
    assert attrs["http.request.method"] == "GET"
    assert attrs["http.route"] == "/items/{item_id}"
    assert attrs["http.response.status_code"] == 200
    assert attrs["url.path"] == "/items/5"
    assert attrs["url.query"] == "token=[REDACTED]&q=1"
    assert attrs["client.address"] == "127.0.0.1"


def test_error_span_and_exception_ids(rt: IsolatedRuntime) -> None:
    """A 500 marks the span as error; the raised exception carries the request's ids."""
    app = fastapi_app()
    call(app, ("GET", "/boom"))
    (span,) = rt.exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.name == "GET /boom"
    assert any(e.name == "exception" for e in span.events)
    access = next(e for e in rt.events if e["logger"] == "obskit.access")
    assert access["status"] == 500
    assert access["trace_id"] == format(span.context.trace_id, "032x")


def test_access_line_fields(rt: IsolatedRuntime) -> None:
    """The access line has method, route, path (no query), status, duration, client, ids."""
    app = fastapi_app()
    call(app, ("GET", "/items/9?password=x"))
    (access,) = [e for e in rt.events if e["logger"] == "obskit.access"]
    (span,) = rt.exporter.get_finished_spans()
    assert access["event"] == "request"
    assert access["method"] == "GET"
    assert access["route"] == "/items/{item_id}"
    assert access["path"] == "/items/9"
    assert access["status"] == 200
    assert isinstance(access["duration_ms"], float)
    assert access["duration_ms"] >= 0
    assert access["client_addr"] == "127.0.0.1"
    assert access["trace_id"] == format(span.context.trace_id, "032x")
    assert access["span_id"] == format(span.context.span_id, "016x")


def test_exemplars_only_for_sampled_spans(make_rt: Any) -> None:
    """OpenMetrics output carries a trace_id exemplar for a sampled request, none otherwise."""
    runtime = make_rt()
    app = fastapi_app()
    call(app, ("GET", "/items/1"), headers={"traceparent": TRACEPARENT_UNSAMPLED})
    text = om_latest(runtime.registry).decode()
    assert "# {trace_id=" not in text
    call(app, ("GET", "/items/2"), headers={"traceparent": TRACEPARENT_SAMPLED})
    text = om_latest(runtime.registry).decode()
    exemplars = [line for line in text.splitlines() if "# {trace_id=" in line]
    assert len(exemplars) == 1
    assert TRACEPARENT_SAMPLED.split("-")[1] in exemplars[0]
    assert exemplars[0].startswith(c.HTTP_DURATION_BUCKET)


def test_metrics_app_negotiates_openmetrics(rt: IsolatedRuntime) -> None:
    """metrics_app() mounted in an app serves text by default and OpenMetrics on request."""
    app = fastapi_app()
    app.mount("/metrics", obskit.metrics_app())
    call(app, ("GET", "/items/1"))

    async def get(accept: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/metrics/", headers={"Accept": accept})

    plain = asyncio.run(get("text/plain"))
    om = asyncio.run(get("application/openmetrics-text; version=1.0.0"))
    assert plain.headers["content-type"].startswith("text/plain")
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert COUNT in plain.text
    assert om.text.rstrip().endswith("# EOF")
    assert c.TARGET_INFO in plain.text


def test_instrument_is_idempotent_and_counts_once(rt: IsolatedRuntime) -> None:
    """instrument() twice (on top of auto-instrumentation) still records each request once."""
    app = fastapi_app()
    assert obskit.instrument(app) is app
    assert obskit.instrument(obskit.instrument(app)) is app
    call(app, ("GET", "/items/1"))
    assert count(rt, http_route="/items/{item_id}") == 1
    assert len(rt.exporter.get_finished_spans()) == 1


def test_plain_asgi_callable_is_wrapped(rt: IsolatedRuntime) -> None:
    """Any ASGI callable can be wrapped; an app setting scope['route'] gets that route."""

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = "/raw/{x}"
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    wrapped = obskit.instrument(raw)
    assert obskit.instrument(wrapped) is wrapped
    assert call(wrapped, ("PUT", "/raw/1")) == [201]
    assert count(rt, http_route="/raw/{x}", http_response_status_code="201") == 1


def test_active_requests_gauge_returns_to_zero(rt: IsolatedRuntime) -> None:
    """The active-requests gauge is incremented during a request and back to 0 after."""
    seen: list[float | None] = []
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> str:
        from obskit.testing import MetricsReader

        seen.append(MetricsReader(rt.registry).value(c.ACTIVE_REQUESTS, http_request_method="GET"))
        return "ok"

    call(app, ("GET", "/slow"))
    from obskit.testing import MetricsReader

    assert seen == [1.0]
    assert MetricsReader(rt.registry).value(c.ACTIVE_REQUESTS) == 0.0


@pytest.mark.parametrize("routes", [1, 200])
def test_route_count_does_not_matter(rt: IsolatedRuntime, routes: int) -> None:
    """With 200 routes the last one is still reported by template (nothing re-matched)."""
    app = FastAPI()
    for i in range(routes):
        app.add_api_route(f"/r{i}/{{x}}", lambda x: x, methods=["GET"])
    call(app, ("GET", f"/r{routes - 1}/v"))
    assert count(rt, http_route=f"/r{routes - 1}/{{x}}") == 1


def test_app_served_before_instrument_is_rebuilt(rt: IsolatedRuntime) -> None:
    """An app whose middleware stack was built before instrumentation gets it rebuilt."""
    from obskit._runtime.http.asgi import ObskitASGI

    app = fastapi_app()
    app.middleware_stack = app.build_middleware_stack.__wrapped__(app)  # type: ignore[attr-defined]
    assert not isinstance(app.middleware_stack, ObskitASGI)
    obskit.instrument(app)
    call(app, ("GET", "/items/1"))
    assert count(rt, http_route="/items/{item_id}") == 1


def test_access_line_carries_contextvars_bound_by_the_endpoint(rt: IsolatedRuntime) -> None:
    """Keys an async endpoint binds appear on that request's access line, not the next one's;
    obskit's own fields win a name clash."""
    import structlog

    app = FastAPI()

    @app.get("/orders/{oid}")
    async def order(oid: str) -> str:
        structlog.contextvars.bind_contextvars(order_id=oid, status="spoofed")
        return oid

    @app.get("/plain")
    async def plain() -> str:
        return "p"

    call(app, ("GET", "/orders/o-1"), ("GET", "/plain"))
    first, second = [e for e in rt.events if e["logger"] == "obskit.access"]
    assert first["order_id"] == "o-1"
    assert first["status"] == 200
    assert "order_id" not in second


def test_histogram_is_in_seconds_with_the_conventions_buckets(rt: IsolatedRuntime) -> None:
    """The bucket boundaries are conventions.buckets() (seconds), the same list the SLO
    compiler validates latency thresholds against."""
    call(fastapi_app(), ("GET", "/items/1"))
    les = [
        s.labels["le"]
        for m in rt.registry.collect()
        for s in m.samples
        if s.name == c.HTTP_DURATION_BUCKET
    ]
    assert les == [str(b) for b in c.buckets()] + ["+Inf"]
    total = MetricsReader(rt.registry).value(c.HTTP_DURATION_SUM)
    assert total is not None
    assert total < 1.0  # seconds, not milliseconds


def test_bucket_override_from_environment(monkeypatch: pytest.MonkeyPatch, make_rt: Any) -> None:
    """OBSKIT_HTTP_BUCKETS changes the runtime's histogram boundaries."""
    monkeypatch.setenv(c.BUCKETS_ENV, "0.1,0.5,2")
    runtime = make_rt()
    call(fastapi_app(), ("GET", "/items/1"))
    les = {
        s.labels["le"]
        for m in runtime.registry.collect()
        for s in m.samples
        if s.name == c.HTTP_DURATION_BUCKET
    }
    assert les == {"0.1", "0.5", "2.0", "+Inf"}


def test_user_middleware_added_after_init_still_one_measurement(rt: IsolatedRuntime) -> None:
    """Middleware the user adds (before the first request) runs inside obskit's; no
    'cannot add middleware' trap, one span and one count per request."""
    from starlette.middleware.base import BaseHTTPMiddleware

    app = fastapi_app()
    seen: list[str] = []

    async def record(request: Any, call_next: Any) -> Any:
        seen.append(request.url.path)
        return await call_next(request)

    app.add_middleware(BaseHTTPMiddleware, dispatch=record)
    assert call(app, ("GET", "/items/4")) == [200]
    assert seen == ["/items/4"]
    assert count(rt, http_route="/items/{item_id}") == 1
    assert len(rt.exporter.get_finished_spans()) == 1


def test_log_ids_follow_the_active_span_and_the_context_is_restored(
    rt: IsolatedRuntime,
) -> None:
    """Inside a request, log lines carry the server span's ids, a child span's lines carry the
    child's span id on the same trace; after the request no span and no ids are left."""
    from opentelemetry import trace

    from obskit._runtime.logs.bindings import current_ids

    seen: list[Any] = []

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = "/ctx"
        obskit.get_logger("t").info("in server span")
        with rt.provider.get_tracer("t").start_as_current_span("child") as child:
            obskit.get_logger("t").info("in child span")
            seen.append(child.get_span_context())
        obskit.get_logger("t").info("back in server span")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    assert call(obskit.instrument(raw), ("GET", "/ctx")) == [200]
    server, inner, back = (e for e in rt.events if e["logger"] == "t")
    access = next(e for e in rt.events if e["logger"] == "obskit.access")
    assert (server["trace_id"], server["span_id"]) == (access["trace_id"], access["span_id"])
    assert (back["trace_id"], back["span_id"]) == (access["trace_id"], access["span_id"])
    assert inner["trace_id"] == access["trace_id"]
    assert inner["span_id"] == format(seen[0].span_id, "016x") != access["span_id"]
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert current_ids() is None


def test_error_handed_over_in_the_scope_is_recorded_on_the_span(rt: IsolatedRuntime) -> None:
    """A framework that answers 500 itself can hand the exception over in
    ``scope["obskit.error"]`` (as Django's ASGI handler does): the span records it as an
    ``exception`` event with its type as ``error.type``; a key left on a non-5xx response is
    ignored."""

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = "/handled"
        try:
            raise KeyError("handled-marker")
        except KeyError as exc:
            scope["obskit.error"] = exc
        status = 500 if scope["path"] == "/handled" else 404
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    assert call(obskit.instrument(raw), ("GET", "/handled"), ("GET", "/other")) == [500, 404]
    failed, other = rt.exporter.get_finished_spans()
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "KeyError"
    assert [e.name for e in failed.events] == ["exception"]
    assert "handled-marker" in str(failed.events[0].attributes)
    assert other.status.status_code is StatusCode.UNSET
    assert other.events == ()
    assert other.attributes is not None
    assert "error.type" not in other.attributes
