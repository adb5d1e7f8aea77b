"""The application the soak benchmark serves: ``benchmarks/_apps.fastapi_app(1)`` (FastAPI, one
route ``/items/{item_id}`` returning ``PlainTextResponse("ok")``), with ``obskit.init()`` first
when ``SOAK_OBSKIT=1`` — exactly how a user adds obskit to a service.

Served by ``gunicorn -c benchmarks/_soak_gunicorn.py _soak_app:app``.
"""

from __future__ import annotations

import os

if os.environ.get("SOAK_OBSKIT") == "1":
    import obskit

    obskit.init("soak")

from _apps import fastapi_app  # after init(): the app is auto-instrumented

app = fastapi_app(1)
