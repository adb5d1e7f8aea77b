"""The application the soak benchmark serves: ``benchmarks/_apps.fastapi_app(1)`` (FastAPI, one
route ``/items/{item_id}`` returning ``PlainTextResponse("ok")``), with ``obskit.init()`` first
when ``SOAK_OBSKIT=1`` — exactly how a user adds obskit to a service.

Served by ``gunicorn -c benchmarks/_soak_gunicorn.py _soak_app:app``.

``SOAK_PASSTHROUGH=1`` (diagnosis, e.g. ``--bare-env SOAK_PASSTHROUGH=1``) wraps the app in a
plain ASGI middleware that only passes each call on, wrapping ``send`` as obskit does: the cost
of being a Python middleware layer at all, for comparison with obskit's.
"""

from __future__ import annotations

import os

if os.environ.get("SOAK_OBSKIT") == "1":
    import obskit

    obskit.init("soak")

from _apps import fastapi_app  # after init(): the app is auto-instrumented

app = fastapi_app(1)

if os.environ.get("SOAK_PASSTHROUGH") == "1":
    from typing import Any

    class _PassThrough:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await self.inner(scope, receive, send)
                return

            async def wrapped_send(message: Any) -> None:
                await send(message)

            await self.inner(scope, receive, wrapped_send)

    app = _PassThrough(app)  # type: ignore[assignment]
