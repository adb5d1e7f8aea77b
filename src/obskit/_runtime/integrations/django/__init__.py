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
``"obskit._runtime.integrations.django.RouteMiddleware"`` in ``MIDDLEWARE`` and
``application = obskit.instrument(get_wsgi_application())``.  Both paths together measure each
request once (the nested middleware passes through, the route is the same value).

By concern: :mod:`.routes` (the route and exception handed to the middleware), :mod:`.loggers`,
:mod:`.middleware` (``RouteMiddleware``), :mod:`.lifespan`, :mod:`.handlers` (the patches) and
:mod:`.imports` (when they are applied); imports run in that order.
"""

from __future__ import annotations

from obskit._runtime.integrations.django.handlers import DJANGO, is_instrumented_handler
from obskit._runtime.integrations.django.imports import install, is_patched
from obskit._runtime.integrations.django.middleware import RouteMiddleware
from obskit._runtime.integrations.django.routes import route_template

__all__ = [
    "DJANGO",
    "RouteMiddleware",
    "install",
    "is_instrumented_handler",
    "is_patched",
    "route_template",
]
