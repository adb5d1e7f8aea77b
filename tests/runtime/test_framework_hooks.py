"""Framework hooks declare what they were written for, log each hook applied, and degrade — one
JSON warning, nothing patched, ``obskit.instrument(app)`` still measuring with the right route —
when a release removed a target.  Each case runs in a fresh interpreter (the hooks are
process-wide); the target is removed the way a new release would, before ``init()``."""

from __future__ import annotations

import json
from typing import Any

from .conftest import run_python

_WARNING = "framework not auto-instrumented: a hook target is missing in this release"


def _lines(code: str, **env: str) -> list[dict[str, Any]]:
    result = run_python(code, env={"OBSKIT_LOG_FORMAT": "json", **env})
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def _warnings(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in lines if e["event"] == _WARNING]


def _routes(lines: list[dict[str, Any]]) -> list[str]:
    return [e["route"] for e in lines if e.get("logger") == "obskit.access"]


def test_flask_without_its_route_hook_target_degrades_and_instrument_still_measures() -> None:
    """``RequestContext.match_request`` gone (Flask folding it into ``AppContext``): one warning
    naming it, the version range and the fallback; no request measured automatically (never a
    silent ``<unmatched>``); after ``obskit.instrument(app)`` the route template is reported,
    read through Flask's public ``before_request_funcs``."""
    lines = _lines("""
        import types
        import flask.ctx
        context = flask.ctx.RequestContext
        match = context.match_request
        del context.match_request  # the "new release" matches elsewhere (here: per instance)
        setup = context.__init__
        def __init__(self, *args, **kwargs):
            setup(self, *args, **kwargs)
            self.match_request = types.MethodType(match, self)
        context.__init__ = __init__
        import obskit
        from flask import Flask
        obskit.init("svc")
        app = Flask("shop")
        @app.get("/items/<int:item_id>")
        def item(item_id): return "ok"
        from werkzeug.test import Client
        client = Client(app)  # Flask 2.3's test_client reads werkzeug.__version__, gone in 3.1
        assert client.get("/items/1").status_code == 200
        assert obskit.instrument(app) is app
        assert client.get("/items/2").status_code == 200
        assert client.get("/nope").status_code == 404
    """)
    [warning] = _warnings(lines)
    assert warning["level"] == "warning"
    assert warning["framework"] == "flask"
    assert warning["missing"] == "flask.ctx.RequestContext.match_request"
    assert warning["instruments"] == "flask >= 2.3, < 4.0"
    assert warning["use"] == "app = obskit.instrument(app)"
    assert _routes(lines) == ["/items/<int:item_id>", "<unmatched>"]


def test_starlette_without_build_middleware_stack_degrades_and_instrument_wraps() -> None:
    """A Starlette that builds its stack under another name: one warning naming
    ``build_middleware_stack``; the app serves unmeasured; ``obskit.instrument(app)`` returns a
    plain ASGI wrapper that reports the route the router recorded."""
    lines = _lines("""
        import asyncio
        from starlette.applications import Starlette
        build = Starlette.__dict__["build_middleware_stack"]
        del Starlette.build_middleware_stack
        async def call(self, scope, receive, send):  # the "new release": its own name
            if self.middleware_stack is None:
                self.middleware_stack = build(self)
            await self.middleware_stack(scope, receive, send)
        Starlette.__call__ = call
        import httpx, obskit
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route
        obskit.init("svc")
        async def item(request): return PlainTextResponse("ok")
        app = Starlette(routes=[Route("/items/{item_id}", item)])
        async def get(app, path):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return (await c.get(path)).status_code
        assert asyncio.run(get(app, "/items/1")) == 200
        wrapped = obskit.instrument(app)
        assert wrapped is not app
        assert asyncio.run(get(wrapped, "/items/2")) == 200
    """)
    [warning] = _warnings(lines)
    assert warning["framework"] == "starlette"
    assert warning["missing"] == "starlette.applications.Starlette.build_middleware_stack"
    assert _routes(lines) == ["/items/{item_id}"]


def test_django_with_its_resolver_hook_renamed_degrades_to_the_settings_path() -> None:
    """``BaseHandler.resolve_request`` no longer on the class (a release resolving elsewhere):
    one warning naming it and the settings path; Django is left entirely unpatched; the
    settings path (``RouteMiddleware`` + ``obskit.instrument``) reports the route template."""
    from tests.runtime_django.conftest import APPS_DIR

    lines = _lines(
        """
        import types
        from django.core.handlers import base
        renamed = base.BaseHandler.resolve_request
        del base.BaseHandler.resolve_request
        load = base.BaseHandler.load_middleware
        def load_middleware(self, is_async=False):
            self.resolve_request = types.MethodType(renamed, self)
            load(self, is_async)
        base.BaseHandler.load_middleware = load_middleware
        import httpx, obskit
        obskit.init("svc")
        from obskit._runtime.integrations import django as hooks
        assert not hooks.is_patched()
        import djproject
        djproject.configure(route_middleware=True)
        from django.core.wsgi import get_wsgi_application
        from django.core.handlers import wsgi
        assert not hasattr(wsgi.WSGIHandler.__call__, "__wrapped__")
        plain = get_wsgi_application()
        with httpx.Client(transport=httpx.WSGITransport(app=plain), base_url="http://t") as c:
            assert c.get("/items/1").status_code == 200
        app = obskit.instrument(get_wsgi_application())
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://t") as c:
            assert c.get("/items/2").status_code == 200
        """,
        PYTHONPATH=str(APPS_DIR),
    )
    [warning] = _warnings(lines)
    assert warning["framework"] == "django"
    assert warning["missing"] == "django.core.handlers.base.BaseHandler.resolve_request"
    assert "obskit.django.RouteMiddleware" in warning["use"]
    assert _routes(lines) == ["/items/<int:item_id>"]


def test_server_logging_hooks_degrade_with_one_warning_each() -> None:
    """uvicorn's ``Config.configure_logging`` and gunicorn's ``Logger.setup`` gone: one warning
    each, naming the target and what to use instead; ``init()`` completes."""
    lines = _lines("""
        import uvicorn.config, gunicorn.glogging
        del uvicorn.config.Config.configure_logging
        del gunicorn.glogging.Logger.setup
        import obskit
        obskit.init("svc")
        obskit.get_logger("app").info("still logging")
    """)
    warnings = {w["framework"]: w for w in _warnings(lines)}
    assert sorted(warnings) == ["gunicorn", "uvicorn"]
    assert warnings["uvicorn"]["missing"] == "uvicorn.config.Config.configure_logging"
    assert warnings["gunicorn"]["missing"] == "gunicorn.glogging.Logger.setup"
    assert warnings["gunicorn"]["use"] == "--logger-class obskit.GunicornLogger"
    assert [e["event"] for e in lines][-1] == "still logging"


def test_each_hook_applied_logs_one_debug_line_with_its_version_range() -> None:
    """At debug level, ``init()`` with Starlette and Flask imported logs one line per hook
    applied (framework, target, installed version, the range it was written for), no warning;
    a second ``instrument()`` adds none."""
    lines = _lines(
        """
        import flask, starlette.applications, obskit
        obskit.init("svc")
        obskit.instrument(flask.Flask("a"))
        """,
        OBSKIT_LOG_LEVEL="debug",
    )
    applied = [e for e in lines if e["event"] == "framework hook applied"]
    targets = [e["target"] for e in applied]
    assert len(targets) == len(set(targets))
    assert {
        "starlette.applications.Starlette.build_middleware_stack",
        "flask.ctx.RequestContext.match_request",
        "flask.Flask.handle_exception",
        "flask.Flask.__call__",
    } <= set(targets)
    flask_line = next(e for e in applied if e["target"] == "flask.Flask.__call__")
    from importlib.metadata import version

    assert flask_line["version"] == version("flask")
    assert flask_line["instruments"] == "flask >= 2.3, < 4.0"
    assert flask_line["written_for"] is True
    assert _warnings(lines) == []


def test_the_server_and_django_hooks_each_log_one_debug_line() -> None:
    """uvicorn's and gunicorn's logging hooks and each of Django's four handler hooks log one
    debug line at ``init()``, with the installed version and the range each was written for."""
    lines = _lines(
        """
        import uvicorn.config, gunicorn.glogging
        import django.core.handlers.asgi, django.core.handlers.wsgi
        import obskit
        obskit.init("svc")
        """,
        OBSKIT_LOG_LEVEL="debug",
    )
    hook_lines = [e for e in lines if e["event"] == "framework hook applied"]
    applied = {e["target"]: e for e in hook_lines}
    assert len(applied) == len(hook_lines)  # one line per hook
    from importlib.metadata import version

    django = ("django", "django >= 4.2, < 6.2")
    expected = {
        "uvicorn.config.Config.configure_logging": ("uvicorn", "uvicorn >= 0.20"),
        "gunicorn.glogging.Logger.setup": ("gunicorn", "gunicorn >= 21.2"),
        "django.core.handlers.base.BaseHandler.resolve_request": django,
        "django.core.handlers.base.BaseHandler.load_middleware": django,
        "django.core.handlers.wsgi.WSGIHandler.__call__": django,
        "django.core.handlers.asgi.ASGIHandler.__call__": django,
    }
    for target, (framework, instruments) in expected.items():
        line = applied[target]
        assert line["framework"] == framework, target
        assert line["version"] == version(framework), target
        assert line["instruments"] == instruments, target
        assert line["written_for"] is True, target
    assert _warnings(lines) == []
