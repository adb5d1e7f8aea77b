"""Client-library instrumentation through ``opentelemetry_instrumentor`` entry points.

As ``opentelemetry-instrument`` does — honouring ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` and the
instrumentors' dependency checks — but never the server-framework instrumentors, whose spans
would double obskit's own server span, and never an instrumentor twice.
"""

from __future__ import annotations

import logging
import os
from importlib.metadata import entry_points
from typing import Any, Final

__all__ = ["SERVER_INSTRUMENTORS", "instrument_libraries"]

_log = logging.getLogger("obskit.libraries")

#: Instrumentors that create server spans: obskit's middleware already does.
SERVER_INSTRUMENTORS: Final = frozenset(
    {
        "asgi", "wsgi", "fastapi", "starlette", "flask", "django", "falcon", "pyramid",
        "tornado", "aiohttp-server", "aiohttp_server", "asyncio",
    }
)  # fmt: skip

_done: set[str] = set()


def _disabled() -> set[str]:
    raw = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def instrument_libraries() -> list[str]:
    """Run every eligible instrumentor once; returns the names instrumented by this call."""
    disabled = _disabled()
    if "*" in disabled:
        return []
    try:
        from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts
    except ImportError:  # pragma: no cover - opentelemetry-instrumentation is a dependency
        return []
    done: list[str] = []
    for ep in entry_points(group="opentelemetry_instrumentor"):
        name = ep.name
        if name in _done or name in disabled or name in SERVER_INSTRUMENTORS:
            continue
        _done.add(name)
        try:
            if ep.dist is not None and get_dist_dependency_conflicts(ep.dist) is not None:
                _log.debug("instrumentation skipped: library missing", extra={"library": name})
                continue
            instrumentor: Any = ep.load()()
            if getattr(instrumentor, "is_instrumented_by_opentelemetry", False):
                continue
            instrumentor.instrument()
            done.append(name)
        except Exception as exc:  # one broken instrumentor must not break start-up
            _log.warning("instrumentation failed", extra={"library": name, "error": repr(exc)})
    if done:
        _log.debug("instrumented libraries", extra={"libraries": done})
    return done
