"""Flask app whose handlers log values that cannot be encoded as they are (gunicorn)."""

from __future__ import annotations

import logging

import obskit

obskit.init("hostile")

from flask import Flask  # noqa: E402  (created after init(), as users do)
from hostile_cases import CASES  # noqa: E402

app = Flask(__name__)
slog = obskit.get_logger("app.structlog")
std = logging.getLogger("app.stdlib")


@app.get("/structlog/<case>")
def via_structlog(case: str) -> dict[str, str]:
    """Log ``v=<value>`` through structlog; the request must be unaffected."""
    slog.info(f"hostile {case}", v=CASES[case]())
    return {"ok": case}


@app.get("/stdlib/<case>")
def via_stdlib(case: str) -> dict[str, str]:
    """Log ``extra={"v": <value>}`` through the stdlib bridge."""
    std.info("hostile %s", case, extra={"v": CASES[case]()})
    return {"ok": case}
