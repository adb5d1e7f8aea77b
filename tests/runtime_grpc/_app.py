"""How the gRPC export tests run their service: ``apps/grpc_fastapi.py`` under a real uvicorn."""

from __future__ import annotations

import os
from pathlib import Path

from tests.runtime_e2e._service import UVICORN_WORKER, Kind

HERE = Path(__file__).resolve().parent
APPS_DIR = HERE / "apps"
#: A ``sitecustomize`` that makes the gRPC exporter package unimportable (see its docstring).
NO_GRPC_DIR = HERE / "no_grpc"

GRPC_UVICORN = Kind(
    "grpc-uvicorn",
    "grpc_fastapi:app",
    "grpc-fastapi",
    "uvicorn",
    {"orders": "/orders/{order_id}", "healthz": "/healthz"},
    env={"PYTHONPATH": str(APPS_DIR)},
)

#: gunicorn, two uvicorn workers, the app (and so ``init()`` and the gRPC exporter's channel)
#: created in the master before the fork.
GRPC_GUNICORN_PRELOAD = Kind(
    "grpc-gunicorn-2-preload",
    "grpc_fastapi:app",
    "grpc-fastapi",
    "gunicorn",
    GRPC_UVICORN.routes,
    workers=2,
    worker_class=UVICORN_WORKER,
    extra=("--preload",),
    env={"PYTHONPATH": str(APPS_DIR)},
)

#: ``PYTHONPATH`` for a service where ``opentelemetry.exporter.otlp.proto.grpc`` cannot be
#: imported (nothing uninstalled).
BLOCKED_PYTHONPATH = os.pathsep.join((str(NO_GRPC_DIR), str(APPS_DIR)))
