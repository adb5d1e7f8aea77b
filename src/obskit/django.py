"""Django's settings path, for ``OBSKIT_INSTRUMENT_FRAMEWORKS=false`` (``docs/runtime.md``)::

    MIDDLEWARE = ["obskit.django.RouteMiddleware", ...]      # settings.py
    application = obskit.instrument(get_wsgi_application())  # wsgi.py (or asgi.py)

With the default automatic instrumentation neither line is needed (harmless if present).
"""

from __future__ import annotations

from obskit._runtime import envcheck as _envcheck

# Before the SDK is imported (as ``obskit.__getattr__`` does): some of its modules read, and
# raise on, variables at import.
_envcheck.check_early()

from obskit._runtime.integrations.django import RouteMiddleware  # noqa: E402

__all__ = ["RouteMiddleware"]
