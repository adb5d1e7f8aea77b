"""The Flask service under test: an ordinary app with the one ``obskit.init()`` line.

Run by the end-to-end tests under gunicorn's sync worker (``python -m gunicorn e2e_flask:app``)
with this folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import requests
import structlog

import obskit

obskit.init("e2e-flask", service_version="1.2.3", environment="e2e")

from flask import Flask, request  # noqa: E402  (created after init(), as users do)
from opentelemetry import trace  # noqa: E402

app = Flask(__name__)
slog = obskit.get_logger("app.structlog")
std = logging.getLogger("app")


@app.get("/orders/<int:order_id>")
def get_order(order_id: int) -> dict[str, Any]:
    """One structlog line and one stdlib line inside the request."""
    # A request-scoped field, on every later line of this request only.
    structlog.contextvars.bind_contextvars(request_tag=f"order-{order_id}")
    slog.info("order.structlog", order_id=order_id)
    std.info("order.stdlib %s", order_id, extra={"order_id": order_id})
    return {"order_id": order_id, "pid": os.getpid()}


@app.get("/items/<int:item_id>")
def get_item(item_id: int) -> dict[str, Any]:
    """The same two log lines on a second route."""
    slog.info("item.structlog", item_id=item_id)
    std.info("item.stdlib %s", item_id, extra={"item_id": item_id})
    return {"item_id": item_id, "pid": os.getpid()}


@app.get("/proxy/<int:n>")
def proxy(n: int) -> dict[str, int]:
    """Calls a downstream service with ``requests`` (instrumented by obskit's library hook)."""
    response = requests.get(f"{os.environ['E2E_DOWNSTREAM_URL']}/downstream/{n}", timeout=5)
    return {"downstream_status": response.status_code}


@app.get("/whoami")
def whoami() -> dict[str, int]:
    """Which worker process served the request."""
    return {"pid": os.getpid()}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    """A probe path, excluded from metrics, spans and access lines by default."""
    return {"status": "ok"}


@app.get("/boom")
def boom() -> None:
    """Raises: Flask answers 500 and logs the exception with the request's ids."""
    raise RuntimeError("boom-marker: the handler failed on purpose")


@app.post("/login")
def login() -> dict[str, bool]:
    """Logs what careless code logs: the body, the headers, a password; sets span attributes."""
    body = request.get_json()
    headers = dict(request.headers)
    slog.info(
        "login attempt",
        user=body.get("user"),
        password=body.get("password"),
        payload=body,
        headers=headers,
    )
    std.warning(
        "login attempt for %s",
        body.get("user"),
        extra={"password": body.get("password"), "authorization": headers.get("Authorization")},
    )
    span = trace.get_current_span()
    span.set_attribute("app.login.password", str(body.get("password")))
    span.set_attribute("app.request.header.authorization", headers.get("Authorization", ""))
    return {"ok": True}
