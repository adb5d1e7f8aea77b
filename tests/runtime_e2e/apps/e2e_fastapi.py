"""The FastAPI service under test: an ordinary app with the one ``obskit.init()`` line.

Run by the end-to-end tests as ``python -m uvicorn e2e_fastapi:app`` (and under gunicorn with
uvicorn workers) with this folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

import requests
import structlog

import obskit

obskit.init("e2e-fastapi", service_version="1.2.3", environment="e2e")

from fastapi import FastAPI, Request  # noqa: E402  (created after init(), as users do)
from opentelemetry import trace  # noqa: E402

app = FastAPI()
slog = obskit.get_logger("app.structlog")
std = logging.getLogger("app")


@app.get("/orders/{order_id}")
async def get_order(order_id: int) -> dict[str, Any]:
    """Async route: one structlog line and one stdlib line inside the request."""
    # A request-scoped field, on every later line of this request only.
    structlog.contextvars.bind_contextvars(request_tag=f"order-{order_id}")
    slog.info("order.structlog", order_id=order_id)
    std.info("order.stdlib %s", order_id, extra={"order_id": order_id})
    return {"order_id": order_id, "pid": os.getpid()}


@app.get("/items/{item_id}")
def get_item(item_id: int) -> dict[str, Any]:
    """Sync route (runs in the thread pool): the same two log lines."""
    slog.info("item.structlog", item_id=item_id)
    std.info("item.stdlib %s", item_id, extra={"item_id": item_id})
    return {"item_id": item_id, "pid": os.getpid()}


@app.get("/proxy/{n}")
def proxy(n: int) -> dict[str, int]:
    """Calls a downstream service with ``requests`` (instrumented by obskit's library hook)."""
    response = requests.get(f"{os.environ['E2E_DOWNSTREAM_URL']}/downstream/{n}", timeout=5)
    return {"downstream_status": response.status_code}


@app.get("/whoami")
async def whoami() -> dict[str, Any]:
    """Which worker process served the request, and on which HTTP parser and event loop."""
    loop = type(asyncio.get_running_loop()).__module__.partition(".")[0]
    # uvicorn imports the httptools protocol only when it serves with it ("auto" prefers it).
    http = "httptools" if "uvicorn.protocols.http.httptools_impl" in sys.modules else "h11"
    return {"pid": os.getpid(), "http": http, "loop": loop}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """A probe path, excluded from metrics, spans and access lines by default."""
    return {"status": "ok"}


@app.get("/boom")
async def boom() -> None:
    """Raises: the server answers 500 and the exception is logged with the request's ids."""
    raise RuntimeError("boom-marker: the handler failed on purpose")


@app.post("/login")
async def login(request: Request) -> dict[str, bool]:
    """Logs what careless code logs: the body, the headers, a password; sets span attributes."""
    body = await request.json()
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
        extra={"password": body.get("password"), "authorization": headers.get("authorization")},
    )
    span = trace.get_current_span()
    span.set_attribute("app.login.password", str(body.get("password")))
    span.set_attribute("app.request.header.authorization", headers.get("authorization", ""))
    return {"ok": True}
