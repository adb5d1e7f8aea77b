"""The ASGI lifespan protocol, answered for Django (which refuses it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["with_lifespan"]


async def _answer_lifespan(receive: Any, send: Any) -> None:
    """Nothing to start or stop, but obskit's middleware flushes spans when
    ``lifespan.shutdown.complete`` is sent — under uvicorn, which re-raises SIGTERM, ``atexit``
    hooks never run."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def with_lifespan(handle: Callable[..., Any]) -> Callable[..., Any]:
    """``handle`` (Django's ASGI handler) with the lifespan scope answered for it."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await handle(scope, receive, send)
            return
        try:
            # Django raises ValueError before reading a message; a Django that speaks lifespan
            # one day is left to do so.
            await handle(scope, receive, send)
        except ValueError:
            await _answer_lifespan(receive, send)

    return app
