"""The FastAPI service of the gRPC export tests: an ordinary app with the one ``obskit.init()``.

Run as ``python -m uvicorn grpc_fastapi:app`` with this folder on ``PYTHONPATH``; the exporter
(gRPC or http/protobuf) is chosen by the ``OTEL_EXPORTER_OTLP_*`` variables the test sets.
"""

from __future__ import annotations

import os

import obskit

obskit.init("grpc-fastapi", service_version="0.9.1", environment="grpc-e2e")

from fastapi import FastAPI  # noqa: E402  (created after init(), as users do)

app = FastAPI()
log = obskit.get_logger("app.grpc")


@app.get("/orders/{order_id}")
async def get_order(order_id: int) -> dict[str, int]:
    """One structlog line inside the request; says which worker process served it."""
    log.info("order.seen", order_id=order_id)
    return {"order_id": order_id, "pid": os.getpid()}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """A probe path (excluded from spans and access lines by default)."""
    return {"status": "ok"}
