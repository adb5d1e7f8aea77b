"""Flask (WSGI) service for ``test_hostile_tracing.py``: the same routes as hostile_fastapi."""

from __future__ import annotations

import logging

from hostile_objects import LoginBody, log_everything

import obskit

obskit.init("hostile-flask")

from flask import Flask, request  # noqa: E402  (created after init(), as users do)

app = Flask(__name__)
slog = obskit.get_logger("app.structlog")
std = logging.getLogger("app")


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/login")
def login() -> dict[str, bool]:
    """The JSON body validated into a pydantic model, and objects built from it, logged."""
    log_everything(slog, std, LoginBody.model_validate(request.get_json()))
    return {"ok": True}


@app.route("/echo", methods=["GET", "FOO"])
def echo() -> dict[str, bool]:
    """Accepts a non-standard method too."""
    return {"ok": True}
