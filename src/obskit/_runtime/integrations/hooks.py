"""Instrument Starlette/FastAPI, Flask and Django applications without a line of user code.

One module per framework (:mod:`.starlette`, :mod:`.flask`, :mod:`.django`) patches its entry
points, each declaring the releases it was written for (:mod:`.base`) and degrading to "use
``obskit.instrument(app)``" with one JSON warning when a target is missing.  The patches are
installed once per process and are no-ops until ``init()`` has set the state.  This module is
the registry ``init()`` and ``obskit.instrument()`` call.
"""

from __future__ import annotations

from typing import Any, Final

from obskit._runtime.http.asgi import ObskitASGI
from obskit._runtime.http.wsgi import ObskitWSGI
from obskit._runtime.integrations import django as _django
from obskit._runtime.integrations import flask as _flask
from obskit._runtime.integrations import starlette as _starlette

__all__ = ["install", "instrument_app"]

_MARK: Final = "_obskit_instrumented"


def install() -> None:
    """Patch the installed frameworks (Starlette/FastAPI, Flask, Django); idempotent."""
    _starlette.patch()
    _flask.patch()
    _django.install()


def instrument_app(app: Any) -> Any:
    """Instrument ``app`` in place when it is a known framework object, else wrap it."""
    if isinstance(app, (ObskitASGI, ObskitWSGI)) or getattr(app, _MARK, False):
        return app
    if _starlette.is_starlette(app):
        result = _starlette.instrument(app)
        if result is app:
            setattr(app, _MARK, True)
        return result
    if _flask.is_flask(app):
        _flask.instrument(app)
        setattr(app, _MARK, True)
        return app
    if _django.is_instrumented_handler(app):
        setattr(app, _MARK, True)  # its __call__ is already instrumented
        return app
    if _is_async_app(app):
        return ObskitASGI(app)
    return ObskitWSGI(app)


def _is_async_app(app: Any) -> bool:
    import inspect

    if inspect.iscoroutinefunction(app):
        return True
    call = getattr(app, "__call__", None)  # noqa: B004 - an instance's async __call__
    return call is not None and inspect.iscoroutinefunction(call)
