"""FastAPI service for ``test_hostile_tracing.py``: secrets in objects, odd methods, span
attribute limits, a route that calls ``obskit.shutdown()``."""

from __future__ import annotations

import logging

import structlog
from hostile_objects import LoginBody, log_everything

import obskit

obskit.init("hostile-fastapi")

from fastapi import FastAPI  # noqa: E402  (created after init(), as users do)
from opentelemetry import trace  # noqa: E402

app = FastAPI()
slog = obskit.get_logger("app.structlog")
std = logging.getLogger("app")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/login")
async def login(body: LoginBody) -> dict[str, bool]:
    """The request body (a pydantic model) and objects built from it, logged."""
    log_everything(slog, std, body)
    return {"ok": True}


@app.api_route("/echo", methods=["GET", "FOO"])
async def echo() -> dict[str, bool]:
    """Accepts a non-standard method too (the framework routes it; the span must not be named
    after it)."""
    return {"ok": True}


@app.get("/bound/{n}")
async def bound(n: int) -> dict[str, int]:
    """Binds request-scoped contextvars (which the drop warning must not carry)."""
    structlog.contextvars.bind_contextvars(request_tag=f"tag-{n}")
    return {"n": n}


@app.get("/many")
async def many() -> dict[str, bool]:
    """Sets more attributes than a low ``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`` allows."""
    span = trace.get_current_span()
    span.set_attribute("app.note", "n" * 40)  # over a low value-length limit
    for i in range(6):
        span.set_attribute(f"app.attr{i}", i)
    return {"ok": True}


@app.post("/stop-obskit")
def stop_obskit() -> dict[str, bool]:
    """What a lifespan handler or a signal hook might do too early."""
    obskit.shutdown()
    return {"ok": True}


@app.get("/free-text")
async def free_text(key: str) -> dict[str, bool]:
    """A secret in free text: the message, a value under a harmless key, an exception."""
    slog.info(f"charging with {key}", note=f"the key was {key}")
    try:
        raise ValueError(f"card rejected for {key}")
    except ValueError:
        slog.exception("charge failed")
    return {"ok": True}
