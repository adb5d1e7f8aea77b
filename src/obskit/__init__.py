"""obskit: production observability for a Python service in one line, and SLOs as code.

Runtime (``docs/runtime.md``)::

    import obskit
    obskit.init("checkout")          # JSON logs, RED metrics with exemplars, traces

* :func:`init`, :func:`shutdown` — configure once / flush (also at exit);
* :func:`instrument` — any ASGI/WSGI app created before ``init()`` or outside the auto-instrumented
  frameworks (Starlette/FastAPI, Flask);
* :func:`observe` — the same RED metric, a span and an error log for any named operation;
* :func:`get_logger`, :func:`metrics_app`; ``obskit.testing`` is a pytest plugin.

The SLO compiler lives in :mod:`obskit.slo` and the shared names in :mod:`obskit.conventions`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from obskit._version import __version__

if TYPE_CHECKING:
    from obskit._gunicorn import GunicornLogger
    from obskit._logs import LogHandler, get_logger
    from obskit._observe import observe
    from obskit._runtime import init, instrument, metrics_app, shutdown

# The runtime (OpenTelemetry, prometheus-client, structlog) is imported on first use, so
# ``obskit slo build`` and ``import obskit.conventions`` stay cheap.
_LAZY = {
    "GunicornLogger": "obskit._gunicorn",
    "LogHandler": "obskit._logs",
    "get_logger": "obskit._logs",
    "init": "obskit._runtime",
    "instrument": "obskit._runtime",
    "metrics_app": "obskit._runtime",
    "observe": "obskit._observe",
    "shutdown": "obskit._runtime",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'obskit' has no attribute {name!r}")
    import importlib

    from obskit import _envcheck

    # Before the SDK is imported: some of its modules read (and raise on) variables at import.
    _envcheck.check_early()
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "GunicornLogger",
    "LogHandler",
    "__version__",
    "get_logger",
    "init",
    "instrument",
    "metrics_app",
    "observe",
    "shutdown",
]
