"""Django: instrumented after ``init()`` with no further line, or through settings.

Automatic (``init()`` before the handler is created, e.g. in ``settings.py`` or at the top of
``wsgi.py``/``asgi.py``; ``instrument_frameworks`` on, the default):

* ``WSGIHandler.__call__`` / ``ASGIHandler.__call__`` are wrapped in obskit's WSGI/ASGI
  middleware, once per handler instance, so ``get_wsgi_application()`` and
  ``get_asgi_application()`` are measured with nothing in ``wsgi.py``/``asgi.py``;
* ``BaseHandler.resolve_request`` is wrapped: right after Django's own URL resolution the matched
  pattern (``request.resolver_match.route``) is copied where the middleware reads the route —
  nothing is matched twice;
* ``BaseHandler.load_middleware`` (it runs after ``django.setup()`` configured logging) sends
  Django's loggers through obskit's JSON pipeline instead of Django's plain console handlers;
* the ASGI lifespan protocol, which Django refuses, is answered so spans are flushed when uvicorn
  shuts down;
* the ``got_request_exception`` signal hands a view's exception to the WSGI or ASGI middleware
  so the span records it (Django itself turns it into a 500 response).

Django's modules are not imported by obskit: when they are not loaded yet at ``init()``, a
post-import hook patches them as they are imported (importing Django costs ~0.1 s, which a
FastAPI service that merely has Django installed should not pay).

Settings path (``OBSKIT_INSTRUMENT_FRAMEWORKS=false``: obskit patches nothing in Django):
``"obskit._django.RouteMiddleware"`` in ``MIDDLEWARE`` and
``application = obskit.instrument(get_wsgi_application())``.  Both paths together measure each
request once (the nested middleware passes through, the route is the same value).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any, Final

from obskit import _state
from obskit._asgi import ObskitASGI
from obskit._wsgi import ObskitWSGI

__all__ = ["RouteMiddleware", "install", "is_instrumented_handler", "is_patched", "route_template"]

_BASE: Final = "django.core.handlers.base"
_WSGI: Final = "django.core.handlers.wsgi"
_ASGI: Final = "django.core.handlers.asgi"
_MIDDLEWARE_KEY: Final = "_obskit_middleware"
_patched: set[str] = set()


def is_patched() -> bool:
    """Whether Django is instrumented automatically in this process (its URL resolution hooked;
    each handler class is wrapped as soon as its module is imported)."""
    return _BASE in _patched


def is_instrumented_handler(app: Any) -> bool:
    """Whether ``app`` is a Django WSGI/ASGI handler whose class obskit already wrapped."""
    mod = sys.modules.get(_BASE)
    if mod is None or not isinstance(app, mod.BaseHandler):
        return False
    return bool(getattr(type(app).__call__, "_obskit", False))


def route_template(route: str, script_name: str = "") -> str:
    """``items/<int:item_id>`` → ``/items/<int:item_id>`` (the form Flask and Starlette report).

    ``script_name`` is where the project is mounted (a deployment constant, not user input).  A
    ``re_path`` pattern is reported as its regex without the leading ``^``.
    """
    return script_name.rstrip("/") + "/" + route.removeprefix("^").removeprefix("/")


def _record_route(request: Any) -> None:
    """Copy the resolved pattern where obskit's WSGI (environ) or ASGI (scope) middleware reads
    the route."""
    route = getattr(getattr(request, "resolver_match", None), "route", None)
    if not isinstance(route, str):
        return
    meta = request.META
    template = route_template(route, meta.get("SCRIPT_NAME", "") or "")
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):  # ASGIRequest: META is a copy, the scope is shared
        scope["route"] = template
    else:  # WSGIRequest: META is the WSGI environ itself
        meta["obskit.route"] = template


def _record_exception(sender: Any, request: Any = None, **kwargs: Any) -> None:
    """``got_request_exception`` receiver: Django answers 500 itself; the WSGI or ASGI middleware
    records the exception on the span (``environ``/``scope["obskit.error"]``)."""
    exc = sys.exc_info()[1]
    if request is None or exc is None:
        return
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):  # ASGIRequest: META is a copy, the scope is shared
        scope["obskit.error"] = exc
    elif not hasattr(request, "scope"):  # WSGIRequest: META is the WSGI environ itself
        request.META["obskit.error"] = exc


def _is_console(handler: logging.Handler) -> bool:
    # Exactly StreamHandler: Django's "console" and "django.server" handlers. FileHandler,
    # AdminEmailHandler and users' own handler classes are kept.
    return type(handler) is logging.StreamHandler


def json_django_logs() -> None:
    """Send ``django.*`` loggers through obskit's JSON pipeline (after ``django.setup()``).

    Django's default logging writes plain text to stderr (``console`` with ``DEBUG=True``,
    ``django.server`` under ``runserver``); those stream handlers are removed and the loggers
    propagate to the root bridge.  A ``LOGGING`` setting that replaced the root handlers gets the
    bridge back.
    """
    st = _state.STATE
    if st is None:
        return
    from obskit._logs import BridgeHandler, bridge_stdlib

    root = logging.getLogger()
    if not any(isinstance(h, BridgeHandler) for h in root.handlers):
        bridge_stdlib(st.pipeline)
    manager = logging.Logger.manager
    names = [n for n in list(manager.loggerDict) if n == "django" or n.startswith("django.")]
    for name in names:
        logger = manager.loggerDict[name]
        if not isinstance(logger, logging.Logger):
            continue
        console = [h for h in logger.handlers if _is_console(h)]
        for handler in console:
            logger.removeHandler(handler)
        if console:
            logger.propagate = True


class RouteMiddleware:
    """Django middleware (settings path) recording the route template for obskit.

    Sync and async capable; it reads ``request.resolver_match`` after the view, so it adds no
    URL matching and can sit anywhere in ``MIDDLEWARE``.  Redundant, and harmless, when Django is
    instrumented automatically.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self._async = _is_coroutine_function(get_response)
        if self._async:
            from asgiref.sync import markcoroutinefunction

            markcoroutinefunction(self)
        # Built by load_middleware, after django.setup() configured logging.
        json_django_logs()

    def __call__(self, request: Any) -> Any:
        if self._async:
            return self.__acall__(request)
        response = self.get_response(request)
        _record_route(request)
        return response

    async def __acall__(self, request: Any) -> Any:
        """The async path (an ASGI handler with async middleware)."""
        response = await self.get_response(request)
        _record_route(request)
        return response


def _is_coroutine_function(func: Any) -> bool:
    from asgiref.sync import iscoroutinefunction

    result: bool = iscoroutinefunction(func)
    return result


# -- automatic instrumentation ----------------------------------------------------------------


def _patch_base(mod: types.ModuleType) -> None:
    handler = mod.BaseHandler
    resolve = handler.resolve_request
    load = handler.load_middleware

    def resolve_request(self: Any, request: Any) -> Any:
        match = resolve(self, request)
        _record_route(request)
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
    signals.got_request_exception.connect(_record_exception, weak=False, dispatch_uid="obskit")


def _patch_wsgi(mod: types.ModuleType) -> None:
    original = mod.WSGIHandler.__call__

    def __call__(self: Any, environ: Any, start_response: Any) -> Any:
        middleware = self.__dict__.get(_MIDDLEWARE_KEY)
        if middleware is None:
            middleware = ObskitWSGI(types.MethodType(original, self), "DJANGO")
            self.__dict__[_MIDDLEWARE_KEY] = middleware
        return middleware(environ, start_response)

    __call__.__wrapped__ = original  # type: ignore[attr-defined]
    __call__._obskit = True  # type: ignore[attr-defined]
    mod.WSGIHandler.__call__ = __call__


async def _answer_lifespan(receive: Any, send: Any) -> None:
    """The ASGI lifespan protocol, answered for Django (which refuses it): nothing to start or
    stop, but obskit's middleware flushes spans when ``lifespan.shutdown.complete`` is sent —
    under uvicorn, which re-raises SIGTERM, ``atexit`` hooks never run."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _with_lifespan(handle: Callable[..., Any]) -> Callable[..., Any]:
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


def _patch_asgi(mod: types.ModuleType) -> None:
    original = mod.ASGIHandler.__call__

    async def __call__(self: Any, scope: Any, receive: Any, send: Any) -> None:
        middleware = self.__dict__.get(_MIDDLEWARE_KEY)
        if middleware is None:
            middleware = ObskitASGI(_with_lifespan(types.MethodType(original, self)), "DJANGO")
            self.__dict__[_MIDDLEWARE_KEY] = middleware
        await middleware(scope, receive, send)

    __call__.__wrapped__ = original  # type: ignore[attr-defined]
    __call__._obskit = True  # type: ignore[attr-defined]
    mod.ASGIHandler.__call__ = __call__


_PATCHES: Final[dict[str, Callable[[types.ModuleType], None]]] = {
    _BASE: _patch_base,
    _WSGI: _patch_wsgi,
    _ASGI: _patch_asgi,
}


def _patch(name: str, mod: types.ModuleType) -> None:
    if name in _patched:
        return
    _patched.add(name)
    _PATCHES[name](mod)
    if set(_PATCHES) <= _patched:
        _remove_hook()


class _PostImportHook(importlib.abc.MetaPathFinder):
    """Patches Django's handler modules right after they are imported (first in
    ``sys.meta_path``; it finds nothing itself, it only wraps the real loader)."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _PATCHES or fullname in _patched:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            spec: importlib.machinery.ModuleSpec | None = (
                find(fullname, path, target) if find is not None else None
            )
            if spec is not None:
                break
        else:
            return None
        loader: Any = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return None

        def exec_and_patch(module: types.ModuleType) -> None:
            exec_module(module)
            _patch(fullname, module)

        loader.exec_module = exec_and_patch  # this module's own loader instance
        return spec


_hook: _PostImportHook | None = None


def _remove_hook() -> None:
    global _hook
    if _hook is not None and _hook in sys.meta_path:
        sys.meta_path.remove(_hook)
    _hook = None


def install() -> None:
    """Instrument Django's handlers now if imported, else as soon as they are; idempotent."""
    global _hook
    for name in _PATCHES:  # base first: the handler modules import it
        mod = sys.modules.get(name)
        if mod is not None:
            _patch(name, mod)
    pending = not set(_PATCHES) <= _patched
    if pending and _hook is None and importlib.util.find_spec("django") is not None:
        _hook = _PostImportHook()
        sys.meta_path.insert(0, _hook)
