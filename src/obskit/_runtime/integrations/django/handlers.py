"""The patches of Django's handlers: URL resolution and middleware loading on ``BaseHandler``,
``__call__`` of ``WSGIHandler`` and ``ASGIHandler`` wrapped in obskit's middleware.

A missing target degrades Django as a whole (handlers wrapped without the route hook would
report every request as ``<unmatched>``): nothing more is patched, one warning says so.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any, Final, TypeVar

from obskit._runtime.http.asgi import ObskitASGI
from obskit._runtime.http.wsgi import ObskitWSGI
from obskit._runtime.integrations.base import Framework, find_missing
from obskit._runtime.integrations.django.lifespan import with_lifespan
from obskit._runtime.integrations.django.loggers import json_django_logs
from obskit._runtime.integrations.django.routes import record_exception, record_route

__all__ = [
    "ASGI",
    "BASE",
    "DJANGO",
    "WSGI",
    "is_degraded",
    "is_instrumented_handler",
    "patch_asgi",
    "patch_base",
    "patch_wsgi",
]

BASE: Final = "django.core.handlers.base"
WSGI: Final = "django.core.handlers.wsgi"
ASGI: Final = "django.core.handlers.asgi"
_MIDDLEWARE_KEY: Final = "_obskit_middleware"
DJANGO: Final = Framework(
    "django",
    "Django",
    (4, 2),
    (6, 2),
    "application = obskit.instrument(get_wsgi_application()) (or get_asgi_application()) and "
    '"obskit.django.RouteMiddleware" in MIDDLEWARE',
)
#: Set when a hook target is missing: nothing of Django is patched from then on.
_degraded: list[str] = []
M = TypeVar("M")


def is_degraded() -> bool:
    """Whether a hook target was missing (Django left unpatched)."""
    return bool(_degraded)


def is_instrumented_handler(app: Any) -> bool:
    """Whether ``app`` is a Django WSGI/ASGI handler whose class obskit already wrapped."""
    mod = sys.modules.get(BASE)
    if mod is None or not isinstance(app, mod.BaseHandler):
        return False
    return bool(getattr(type(app).__call__, "_obskit", False))


def patch_base(mod: types.ModuleType) -> None:
    """``BaseHandler``: the route recorded right after Django's own URL resolution, Django's
    loggers made JSON once ``django.setup()`` configured them, a view's exception handed on."""
    handler: Any = getattr(mod, "BaseHandler", None)
    missing = (
        f"{BASE}.BaseHandler"
        if handler is None
        else find_missing(handler, f"{BASE}.BaseHandler", "resolve_request", "load_middleware")
    )
    if missing is not None:
        _degrade(missing)
        return
    resolve = handler.resolve_request
    load = handler.load_middleware

    def resolve_request(self: Any, request: Any) -> Any:
        match = resolve(self, request)
        record_route(request)
        return match

    def load_middleware(self: Any, is_async: bool = False) -> None:
        json_django_logs()
        load(self, is_async)

    resolve_request.__wrapped__ = resolve  # type: ignore[attr-defined]
    load_middleware.__wrapped__ = load  # type: ignore[attr-defined]
    handler.resolve_request = resolve_request
    handler.load_middleware = load_middleware
    # (imported by name: Django ships no type information)
    signals: Any = importlib.import_module("django.core.signals")
    signals.got_request_exception.connect(record_exception, weak=False, dispatch_uid="obskit")
    DJANGO.applied(f"{BASE}.BaseHandler.resolve_request")
    DJANGO.applied(f"{BASE}.BaseHandler.load_middleware")


def _degrade(missing: str) -> None:
    """A hook target is gone: patch nothing of Django, say so once."""
    if not _degraded:
        _degraded.append(missing)
        DJANGO.degraded(missing)


def _handler_class(mod: types.ModuleType, name: str) -> Any:
    """``mod.<name>`` when it can be wrapped, else None (Django degraded, warned once)."""
    cls = getattr(mod, name, None)
    dotted = f"{mod.__name__}.{name}"
    missing = dotted if cls is None else None
    if cls is not None and "__call__" not in cls.__dict__:
        missing = f"{dotted}.__call__"
    if missing is not None:
        _degrade(missing)
        return None
    return None if _degraded else cls


def _middleware(handler: Any, original: Any, build: Callable[[Any], M]) -> M:
    """The obskit middleware around this handler instance's own ``__call__`` (built once)."""
    middleware: M | None = handler.__dict__.get(_MIDDLEWARE_KEY)
    if middleware is None:
        middleware = build(types.MethodType(original, handler))
        handler.__dict__[_MIDDLEWARE_KEY] = middleware
    return middleware


def _wrap_call(mod: types.ModuleType, name: str, make_call: Callable[[Any], Any]) -> None:
    """Replace ``mod.<name>.__call__`` with ``make_call(original)`` (marked as obskit's)."""
    cls = _handler_class(mod, name)
    if cls is None:
        return
    original = cls.__call__
    call = make_call(original)
    call.__wrapped__ = original
    call._obskit = True  # is_instrumented_handler() looks for it
    cls.__call__ = call
    DJANGO.applied(f"{mod.__name__}.{name}.__call__")


def _wsgi_call(original: Any) -> Callable[..., Any]:
    def build(app: Any) -> ObskitWSGI:
        return ObskitWSGI(app, "DJANGO")

    def __call__(self: Any, environ: Any, start_response: Any) -> Any:
        return _middleware(self, original, build)(environ, start_response)

    return __call__


def _asgi_call(original: Any) -> Callable[..., Any]:
    def build(app: Any) -> ObskitASGI:
        return ObskitASGI(with_lifespan(app), "DJANGO")  # Django refuses the lifespan scope

    async def __call__(self: Any, scope: Any, receive: Any, send: Any) -> None:
        await _middleware(self, original, build)(scope, receive, send)

    return __call__


def patch_wsgi(mod: types.ModuleType) -> None:
    """``WSGIHandler.__call__`` in obskit's WSGI middleware."""
    _wrap_call(mod, "WSGIHandler", _wsgi_call)


def patch_asgi(mod: types.ModuleType) -> None:
    """``ASGIHandler.__call__`` in obskit's ASGI middleware, the lifespan answered for it."""
    _wrap_call(mod, "ASGIHandler", _asgi_call)
