"""Django: put the matched URL pattern where obskit's middleware reads the route.

Add ``"obskit._django.RouteMiddleware"`` to ``MIDDLEWARE`` and wrap the application with
``obskit.instrument(get_wsgi_application())`` (or the ASGI one).  Django resolves the URL before
calling views; this middleware copies ``request.resolver_match.route`` (``items/<int:pk>/``) into
the WSGI environ / ASGI scope as ``/items/<int:pk>/`` — nothing is matched twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["RouteMiddleware"]


class RouteMiddleware:
    """Django middleware recording the route template for obskit (sync and async capable)."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        return self.get_response(request)

    def process_view(self, request: Any, view_func: Any, view_args: Any, view_kwargs: Any) -> None:
        """Called by Django after URL resolution, before the view."""
        match = getattr(request, "resolver_match", None)
        route = getattr(match, "route", None)
        if not route:
            return
        template = route if route.startswith("/") else "/" + route
        request.META["obskit.route"] = template  # the WSGI environ
        scope = getattr(request, "scope", None)  # ASGI
        if isinstance(scope, dict):
            scope["route"] = template
