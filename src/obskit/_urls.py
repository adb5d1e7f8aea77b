"""``OTEL_PYTHON_EXCLUDED_URLS`` and ``OTEL_PYTHON_<FRAMEWORK>_EXCLUDED_URLS``.

The same semantics as ``opentelemetry-instrumentation`` (``opentelemetry.util.http``): a
comma-separated list of regular expressions, joined with ``|`` and matched with ``search`` against
the request's full URL; the framework's own variable (``FASTAPI``, ``STARLETTE``, ``FLASK``,
``DJANGO``) replaces the generic one for that framework's apps.  An excluded request gets no span,
no metric and no access line — as with the OpenTelemetry instrumentations, which skip the whole
request (span and metrics) — the same as ``OBSKIT_EXCLUDED_PATHS``.

The URL is ``scheme://host/path`` without the query string (the query carries secrets, and the
ASGI and Django instrumentations match without it; Flask's includes it).  Patterns are compiled
once at ``init()``; with no variable set the middleware pays one ``None`` check.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Final

from obskit._envcheck import EXCLUDED_URLS_FRAMEWORKS

__all__ = ["ExcludedURLs"]

_GENERIC: Final = "OTEL_PYTHON_EXCLUDED_URLS"


def _compile(value: str) -> re.Pattern[str] | None:
    patterns = [p.strip() for p in value.split(",") if p.strip()]
    return re.compile("|".join(patterns)) if patterns else None


class ExcludedURLs:
    """Compiled patterns by framework (``""``: any other app)."""

    __slots__ = ("_patterns",)

    def __init__(self, patterns: Mapping[str, re.Pattern[str]]) -> None:
        self._patterns = dict(patterns)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ExcludedURLs | None:
        """The patterns the variables set (checked by ``obskit._envcheck``), or None."""
        env = os.environ if env is None else env
        generic = env.get(_GENERIC, "")
        patterns: dict[str, re.Pattern[str]] = {}
        for framework in ("", *EXCLUDED_URLS_FRAMEWORKS):
            own = env.get(f"OTEL_PYTHON_{framework}_EXCLUDED_URLS") if framework else None
            try:
                pattern = _compile(own if own is not None else generic)
            except re.error:  # pragma: no cover - removed by _envcheck.check()
                pattern = None
            if pattern is not None:
                patterns[framework] = pattern
        return cls(patterns) if patterns else None

    def asgi(self, framework: str, scope: Mapping[str, Any]) -> bool:
        """Whether the ASGI request ``scope`` served by a ``framework`` app is excluded."""
        pattern = self._patterns.get(framework)
        if pattern is None:
            return False
        host = None
        for key, value in scope.get("headers", ()):
            if key == b"host":
                host = value.decode("latin-1")
                break
        if host is None:
            server = scope.get("server") or ("0.0.0.0", 80)
            host = server[0] if server[1] in (80, None) else f"{server[0]}:{server[1]}"
        url = f"{scope.get('scheme', 'http')}://{host}{scope['path']}"  # path has root_path
        return pattern.search(url) is not None

    def wsgi(self, framework: str, environ: Mapping[str, Any]) -> bool:
        """Whether the WSGI request ``environ`` served by a ``framework`` app is excluded."""
        pattern = self._patterns.get(framework)
        if pattern is None:
            return False
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST")
        if not host:
            host = environ.get("SERVER_NAME", "")
            port = str(environ.get("SERVER_PORT", ""))
            if port and port != ("443" if scheme == "https" else "80"):
                host = f"{host}:{port}"
        path = environ.get("SCRIPT_NAME", "") + (environ.get("PATH_INFO", "") or "/")
        return pattern.search(f"{scheme}://{host}{path}") is not None
