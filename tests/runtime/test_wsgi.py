"""WSGI middleware in-process: Flask route templates, errors, exclusions, ids in Flask's logs."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from opentelemetry.trace import StatusCode
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

import obskit
from obskit import conventions as c
from obskit.testing import IsolatedRuntime, MetricsReader

from .conftest import TRACEPARENT_SAMPLED

COUNT = c.HTTP_DURATION_COUNT


def flask_app() -> Flask:
    """A Flask app with a converter route, an error route and a health route."""
    app = Flask("shop")

    @app.get("/users/<int:uid>")
    def user(uid: int) -> dict[str, int]:
        logging.getLogger("shop.users").info("looked up", extra={"uid": uid})
        return {"uid": uid}

    @app.get("/boom")
    def boom() -> str:
        raise ValueError("flask kaboom")

    @app.get("/healthz")
    def health() -> str:
        return "ok"

    return app


def value(rt: IsolatedRuntime, **labels: str) -> float | None:
    """The request count for these labels."""
    return MetricsReader(rt.registry).value(COUNT, **labels)


def test_flask_route_template_and_ids_in_app_logs(rt: IsolatedRuntime) -> None:
    """Flask apps created after init are instrumented: rule template, ids on the app's logs."""
    client = Client(flask_app())
    assert client.get("/users/7", headers={"traceparent": TRACEPARENT_SAMPLED}).status_code == 200
    assert value(rt, http_route="/users/<int:uid>", http_response_status_code="200") == 1
    (span,) = rt.exporter.get_finished_spans()
    assert span.name == "GET /users/<int:uid>"
    trace_id = TRACEPARENT_SAMPLED.split("-")[1]
    assert format(span.context.trace_id, "032x") == trace_id
    app_line = next(e for e in rt.events if e["logger"] == "shop.users")
    access = next(e for e in rt.events if e["logger"] == "obskit.access")
    assert app_line["trace_id"] == access["trace_id"] == trace_id
    assert app_line["uid"] == 7
    assert access["route"] == "/users/<int:uid>"


def test_flask_unmatched_and_error(rt: IsolatedRuntime) -> None:
    """404s are <unmatched>; an exception is a 500 with an error span and Flask's error log
    (with the request's ids and the exception)."""
    client = Client(flask_app())
    assert client.get("/nope").status_code == 404
    assert client.get("/boom").status_code == 500
    assert value(rt, http_route=c.UNMATCHED_ROUTE, http_response_status_code="404") == 1
    assert value(rt, http_route="/boom", http_response_status_code="500") == 1
    error_span = next(s for s in rt.exporter.get_finished_spans() if s.name == "GET /boom")
    assert error_span.status.status_code is StatusCode.ERROR
    assert dict(error_span.attributes or {})["error.type"] == "ValueError"
    assert any(e.name == "exception" for e in error_span.events)
    flask_error = next(e for e in rt.events if e["level"] == "error")
    assert flask_error["exception"]["type"] == "ValueError"
    assert flask_error["trace_id"] == format(error_span.context.trace_id, "032x")


def test_flask_exclusions_and_idempotent_instrument(rt: IsolatedRuntime) -> None:
    """/healthz is not measured; instrument() on a Flask app returns it and counts once."""
    app = flask_app()
    assert obskit.instrument(app) is app
    client = Client(app)
    client.get("/healthz")
    client.get("/users/1")
    assert value(rt, http_route="/healthz") is None
    assert value(rt) == 1


def test_mounted_flask_app_gets_script_name_prefix(rt: IsolatedRuntime) -> None:
    """A Flask app mounted under /api by DispatcherMiddleware reports /api/... templates."""
    outer = Flask("outer")
    dispatcher = DispatcherMiddleware(outer, {"/api": flask_app()})
    assert Client(dispatcher).get("/api/users/3").status_code == 200
    assert value(rt, http_route="/api/users/<int:uid>") == 1


def test_plain_wsgi_app(rt: IsolatedRuntime) -> None:
    """Any WSGI callable is wrapped; environ['obskit.route'] names its route; _OTHER method."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["obskit.route"] = "/plain/{id}"
        start_response("202 Accepted", [("Content-Type", "text/plain")])
        return [b"ok"]

    wrapped = obskit.instrument(app)
    assert obskit.instrument(wrapped) is wrapped
    client = Client(wrapped)
    assert client.open("/plain/1", method="PURGE").status_code == 202
    assert value(rt, http_route="/plain/{id}", http_request_method=c.METHOD_OTHER) == 1


def test_wsgi_contextvars_do_not_leak_between_requests(rt: IsolatedRuntime) -> None:
    """structlog contextvars bound in one WSGI request are gone in the next (same thread)."""
    import structlog

    app = Flask("ctx")

    @app.get("/bind")
    def bind() -> str:
        structlog.contextvars.bind_contextvars(user="alice")
        return "b"

    @app.get("/log")
    def log() -> str:
        obskit.get_logger("ctx").info("second")
        return "l"

    client = Client(app)
    client.get("/bind")
    client.get("/log")
    line = next(e for e in rt.events if e["event"] == "second")
    assert "user" not in line
    structlog.contextvars.clear_contextvars()
