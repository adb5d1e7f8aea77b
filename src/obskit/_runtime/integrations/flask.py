"""Flask: instrumented after ``init()`` with no further line.

* ``Flask.__call__`` is wrapped, so a later ``app.wsgi_app = ProxyFix(app.wsgi_app)`` stays
  inside the measurement;
* ``RequestContext.match_request`` is wrapped: right after Flask's own matching the rule is
  copied where the WSGI middleware reads the route (Flask clears ``environ["werkzeug.request"]``
  when the request context is popped, before the middleware could read it) — no second match;
* ``Flask.handle_exception`` hands the exception Flask turns into a 500 to the middleware, so
  the span records it.

When a target is missing (Flask is folding ``RequestContext`` into ``AppContext`` upstream),
nothing is patched and one JSON warning says so; ``obskit.instrument(app)`` then reads the rule
through Flask's public ``before_request_funcs`` instead.
"""

from __future__ import annotations

import types
from typing import Any, Final

from obskit._runtime.http.wsgi import ObskitWSGI
from obskit._runtime.integrations.base import Framework, find_missing

__all__ = ["FLASK", "instrument", "is_flask", "patch"]

FLASK: Final = Framework("flask", "Flask", (2, 3), (4, 0), "app = obskit.instrument(app)")
_ROUTES: Final = "flask.ctx.RequestContext.match_request"
_patched: set[str] = set()


def _request_context() -> tuple[Any, str | None]:
    """``RequestContext`` if it has the route hook's target, else ``(None, what is missing)``."""
    try:
        from flask import ctx
    except ImportError:
        return None, "flask.ctx"
    cls = getattr(ctx, "RequestContext", None)
    if cls is None:
        return None, "flask.ctx.RequestContext"
    missing = find_missing(cls, "flask.ctx.RequestContext", "match_request")
    return (cls, None) if missing is None else (None, missing)


def _record_rule(request: Any) -> None:
    rule = request.url_rule
    if rule is not None:
        environ = request.environ
        environ["obskit.route"] = environ.get("SCRIPT_NAME", "").rstrip("/") + rule.rule


def patch_routes() -> bool:
    """Record the matched rule where obskit's WSGI middleware reads it (``obskit.route``);
    False when this Flask has no ``RequestContext.match_request``."""
    if "routes" in _patched:
        return True
    cls, _missing = _request_context()
    if cls is None:
        return False
    original = cls.match_request

    def match_request(self: Any) -> None:
        original(self)
        _record_rule(self.request)

    match_request.__wrapped__ = original  # type: ignore[attr-defined]
    cls.match_request = match_request
    _patched.add("routes")
    FLASK.applied(_ROUTES)
    return True


def patch() -> None:
    """Instrument every Flask app of this process (idempotent); degrade with one warning."""
    if "flask" in _patched or "degraded" in _patched:
        return
    try:
        from flask import Flask
    except ImportError:
        return
    _cls, missing = _request_context()
    if missing is None:
        missing = find_missing(Flask, "flask.Flask", "handle_exception", "wsgi_app")
    if missing is None and "__call__" not in Flask.__dict__:
        missing = "flask.Flask.__call__"
    if missing is not None:
        _patched.add("degraded")
        FLASK.degraded(missing)
        return
    patch_routes()
    original_handle = Flask.handle_exception

    def handle_exception(self: Any, e: Exception) -> Any:
        # Flask turns an unhandled exception into a 500 itself: hand the exception to obskit's
        # middleware so the span records it (type, event) rather than just "500".
        from flask import request

        request.environ["obskit.error"] = e
        return original_handle(self, e)

    handle_exception.__wrapped__ = original_handle  # type: ignore[attr-defined]
    Flask.handle_exception = handle_exception  # type: ignore[method-assign]
    FLASK.applied("flask.Flask.handle_exception")
    original = Flask.__call__

    def __call__(self: Any, environ: Any, start_response: Any) -> Any:
        middleware = self.__dict__.get("_obskit_wsgi")
        if middleware is None:
            middleware = ObskitWSGI(types.MethodType(original, self), "FLASK")
            self.__dict__["_obskit_wsgi"] = middleware
        return middleware(environ, start_response)

    __call__.__wrapped__ = original  # type: ignore[attr-defined]
    Flask.__call__ = __call__  # type: ignore[method-assign]
    FLASK.applied("flask.Flask.__call__")
    _patched.add("flask")


def is_flask(app: Any) -> bool:
    import sys

    mod = sys.modules.get("flask")
    return mod is not None and isinstance(app, mod.Flask)


def instrument(app: Any) -> None:
    """Instrument one Flask app in place (``obskit.instrument(app)``)."""
    if not patch_routes():
        # No class-level route hook in this release: Flask's public ``before_request_funcs``
        # (what ``@app.before_request`` fills; the decorator refuses an app that has already
        # served a request) read the rule instead.
        from flask import request

        app.before_request_funcs.setdefault(None, []).append(lambda: _record_rule(request))
    if "flask" not in _patched:
        app.wsgi_app = ObskitWSGI(app.wsgi_app, "FLASK")
