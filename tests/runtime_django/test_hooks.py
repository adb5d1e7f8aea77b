"""When and how obskit hooks into Django, each case in a fresh interpreter (``init()`` and the
hooks are process-wide)."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from tests.runtime_django.conftest import APPS_DIR
from tests.support import run_python

_PRELUDE = """
import json, sys
import obskit
from obskit._runtime.integrations import django as _django
"""


def _run(code: str, **env: str) -> dict[str, Any]:
    """Run ``code`` (after a prelude) in a fresh interpreter; it prints one JSON object last."""
    result: dict[str, Any] = json.loads(_output(code, **env)[-1])
    return result


def _output(code: str, **env: str) -> list[str]:
    """Run ``code`` (after a prelude) in a fresh interpreter; its stdout and stderr lines."""
    base = {
        "OBSKIT_METRICS_PORT": "0",
        "OTEL_TRACES_EXPORTER": "none",
        "OBSKIT_LOG_FORMAT": "json",
        "PYTHONPATH": str(APPS_DIR),
    }
    proc = run_python("-c", _PRELUDE + textwrap.dedent(code), env={**base, **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stderr.splitlines() + proc.stdout.splitlines()


def test_init_does_not_import_django_and_patches_it_when_imported() -> None:
    """``init()`` before any Django import imports no Django module (no ~0.1 s cost for services
    that merely have Django installed); ``get_wsgi_application()`` afterwards is instrumented:
    ``instrument()`` returns the handler itself, no wrapper."""
    result = _run("""
        obskit.init("svc")
        before = sorted(m for m in sys.modules if m == "django" or m.startswith("django."))
        import djproject
        djproject.configure()
        from django.core.wsgi import get_wsgi_application
        app = get_wsgi_application()
        print(json.dumps({"before": before, "patched": _django.is_patched(),
                          "same": obskit.instrument(app) is app}))
    """)
    assert result == {"before": [], "patched": True, "same": True}


def test_init_after_django_was_imported_patches_at_once() -> None:
    """``init()`` called once Django's handlers are loaded (e.g. from ``settings.py``) patches
    them immediately, and the import hook is gone from ``sys.meta_path``."""
    result = _run("""
        from django.core.handlers import asgi, wsgi
        obskit.init("svc")
        from obskit._runtime.integrations.django.imports import PostImportHook
        hooks = [type(f).__name__ for f in sys.meta_path if isinstance(f, PostImportHook)]
        print(json.dumps({"patched": _django.is_patched(), "hooks": hooks,
                          "wrapped": hasattr(wsgi.WSGIHandler.__call__, "__wrapped__")}))
    """)
    assert result == {"patched": True, "hooks": [], "wrapped": True}


def test_frameworks_off_leaves_django_alone_and_instrument_wraps() -> None:
    """``OBSKIT_INSTRUMENT_FRAMEWORKS=false``: Django is not patched; the settings path's
    ``obskit.instrument(get_wsgi_application())`` wraps the handler in obskit's WSGI middleware."""
    result = _run(
        """
        obskit.init("svc")
        import djproject
        djproject.configure(route_middleware=True)
        from django.core.wsgi import get_wsgi_application
        from django.core.handlers import wsgi
        app = obskit.instrument(get_wsgi_application())
        print(json.dumps({"patched": _django.is_patched(), "wrapper": type(app).__name__,
                          "wrapped": hasattr(wsgi.WSGIHandler.__call__, "__wrapped__")}))
        """,
        OBSKIT_INSTRUMENT_FRAMEWORKS="false",
    )
    assert result == {"patched": False, "wrapper": "ObskitWSGI", "wrapped": False}


def test_logging_setting_with_a_root_console_handler_gets_the_bridge_back() -> None:
    """A ``LOGGING`` setting that gives the root logger its own console handler: once the
    handler is built, the root logger's handler is obskit's bridge again, and a log line comes
    out once, as JSON."""
    lines = _output("""
        import logging
        obskit.init("svc")
        import djproject
        djproject.configure(LOGGING={
            "version": 1, "disable_existing_loggers": False,
            "handlers": {"plain": {"class": "logging.StreamHandler",
                                   "stream": "ext://sys.stdout"}},
            "root": {"handlers": ["plain"], "level": "INFO"},
        })
        from django.core.wsgi import get_wsgi_application
        get_wsgi_application()
        logging.getLogger("app").warning("after-setup-marker")
        print(json.dumps({"root": [type(h).__name__ for h in logging.getLogger().handlers]}))
    """)
    assert json.loads(lines[-1]) == {"root": ["BridgeHandler"]}
    marked = [line for line in lines if "after-setup-marker" in line]
    assert len(marked) == 1, lines
    assert json.loads(marked[0])["event"] == "after-setup-marker"
