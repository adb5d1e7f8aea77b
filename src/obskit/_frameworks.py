"""Instrument Starlette/FastAPI, Flask and Django applications without a line of user code.

* Starlette builds its middleware stack lazily, on the first request: obskit wraps
  ``Starlette.build_middleware_stack`` so the built stack is wrapped once, whenever the app was
  created.  Nothing is added through ``add_middleware``, hence no "cannot add middleware after an
  application has started" error, and a rebuilt stack is wrapped again exactly once.
* Flask: ``Flask.__call__`` is wrapped, so a later ``app.wsgi_app = ProxyFix(app.wsgi_app)``
  stays inside the measurement.
* Django: its WSGI/ASGI handlers, see :mod:`obskit._django`.

The patches are installed once per process and are no-ops until ``init()`` has set the state.
"""

from __future__ import annotations

import sys
import types
from typing import Any, Final

from obskit import _django, _starlette_routes
from obskit._asgi import ObskitASGI
from obskit._wsgi import ObskitWSGI

__all__ = ["install", "instrument_app", "is_patched"]

_MARK: Final = "_obskit_instrumented"
_patched: set[str] = set()


def is_patched(framework: str) -> bool:
    """Whether the class-level patch for ``framework`` is installed."""
    return framework in _patched


def _disable_native_telemetry(app: Any) -> None:
    """FastAPI ≥ 0.16x has its own OpenTelemetry server spans once a provider is set: switch
    them off for apps obskit instruments, or every request would get two server spans."""
    config = getattr(app, "_telemetry", None)
    if isinstance(config, dict):
        for key in ("tracing", "metrics", "logs", "operation_spans"):
            if key in config:
                config[key] = False


def _wrap_build(original: Any) -> Any:
    def build_middleware_stack(self: Any) -> Any:
        stack = original(self)
        if isinstance(stack, ObskitASGI):
            return stack
        _disable_native_telemetry(self)
        return ObskitASGI(stack, _starlette_kind(self))

    build_middleware_stack.__wrapped__ = original  # type: ignore[attr-defined]
    build_middleware_stack._obskit = True  # type: ignore[attr-defined]
    return build_middleware_stack


def _starlette_kind(app: Any) -> str:
    """``FASTAPI`` or ``STARLETTE``: whose ``OTEL_PYTHON_<X>_EXCLUDED_URLS`` applies to ``app``."""
    fastapi = sys.modules.get("fastapi")
    return "FASTAPI" if fastapi is not None and isinstance(app, fastapi.FastAPI) else "STARLETTE"


def _patch_class(cls: type) -> None:
    """Wrap ``cls.build_middleware_stack`` if ``cls`` itself defines it (FastAPI overrides it)."""
    own = cls.__dict__.get("build_middleware_stack")
    if own is not None and not getattr(own, "_obskit", False):
        cls.build_middleware_stack = _wrap_build(own)  # type: ignore[attr-defined]
    subclasses: list[type] = type.__subclasses__(cls)
    for sub in subclasses:
        _patch_class(sub)


def _patch_starlette() -> None:
    if "starlette" in _patched:
        return
    try:
        from starlette.applications import Starlette
    except ImportError:
        return
    _patch_class(Starlette)
    if _starlette_routes.install():
        import logging

        logging.getLogger("obskit").debug(
            "starlette: this router does not record scope['route'] (before 1.7): route "
            "classes wrapped so route templates are still read, never re-matched"
        )
    previous = Starlette.__dict__.get("__init_subclass__")

    def __init_subclass__(cls: type, /, **kwargs: Any) -> None:
        # Subclasses defined after init() (FastAPI imported later) are patched as well.
        if previous is not None:
            previous.__func__(cls, **kwargs)
        _patch_class(cls)

    Starlette.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]
    _patched.add("starlette")


def _patch_flask_routes() -> None:
    """Record the matched rule where obskit's WSGI middleware reads it (``obskit.route``).

    Flask clears ``environ["werkzeug.request"]`` when the request context is popped, before the
    middleware could read the rule, so the rule is copied into the environ right after Flask's
    own matching (``RequestContext.match_request``) — no second match.
    """
    if "flask-routes" in _patched:
        return
    try:
        from flask.ctx import RequestContext
    except ImportError:
        return
    original = RequestContext.match_request

    def match_request(self: Any) -> None:
        original(self)
        rule = self.request.url_rule
        if rule is not None:
            environ = self.request.environ
            environ["obskit.route"] = environ.get("SCRIPT_NAME", "").rstrip("/") + rule.rule

    match_request.__wrapped__ = original  # type: ignore[attr-defined]
    RequestContext.match_request = match_request  # type: ignore[method-assign]
    _patched.add("flask-routes")


def _patch_flask() -> None:
    if "flask" in _patched:
        return
    try:
        from flask import Flask
    except ImportError:
        return
    _patch_flask_routes()
    original_handle = Flask.handle_exception

    def handle_exception(self: Any, e: Exception) -> Any:
        # Flask turns an unhandled exception into a 500 itself: hand the exception to obskit's
        # middleware so the span records it (type, event) rather than just "500".
        from flask import request

        request.environ["obskit.error"] = e
        return original_handle(self, e)

    handle_exception.__wrapped__ = original_handle  # type: ignore[attr-defined]
    Flask.handle_exception = handle_exception  # type: ignore[method-assign]
    original = Flask.__call__

    def __call__(self: Any, environ: Any, start_response: Any) -> Any:
        middleware = self.__dict__.get("_obskit_wsgi")
        if middleware is None:
            middleware = ObskitWSGI(types.MethodType(original, self), "FLASK")
            self.__dict__["_obskit_wsgi"] = middleware
        return middleware(environ, start_response)

    __call__.__wrapped__ = original  # type: ignore[attr-defined]
    Flask.__call__ = __call__  # type: ignore[method-assign]
    _patched.add("flask")


def install() -> None:
    """Patch the installed frameworks (Starlette/FastAPI, Flask, Django); idempotent."""
    _patch_starlette()
    _patch_flask()
    _django.install()


def _is_starlette(app: Any) -> bool:
    mod = sys.modules.get("starlette.applications")
    return mod is not None and isinstance(app, mod.Starlette)


def _is_flask(app: Any) -> bool:
    mod = sys.modules.get("flask")
    return mod is not None and isinstance(app, mod.Flask)


def instrument_app(app: Any) -> Any:
    """Instrument ``app`` in place when it is a known framework object, else wrap it."""
    if isinstance(app, (ObskitASGI, ObskitWSGI)) or getattr(app, _MARK, False):
        return app
    if _is_starlette(app):
        stack = getattr(app, "middleware_stack", None)
        if stack is not None and not isinstance(stack, ObskitASGI):
            app.middleware_stack = None  # served before init(): rebuilt, wrapped, next request
        if "starlette" not in _patched:
            build = _wrap_build(type(app).build_middleware_stack)
            app.build_middleware_stack = types.MethodType(build, app)
            app.middleware_stack = None  # rebuilt, wrapped, on the next request
        setattr(app, _MARK, True)
        return app
    if _is_flask(app):
        _patch_flask_routes()
        if "flask" not in _patched:
            app.wsgi_app = ObskitWSGI(app.wsgi_app, "FLASK")
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
