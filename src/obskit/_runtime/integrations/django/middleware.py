"""``RouteMiddleware``: the settings path (``OBSKIT_INSTRUMENT_FRAMEWORKS=false``), public as
``obskit.django.RouteMiddleware``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from obskit._runtime.integrations.django.loggers import json_django_logs
from obskit._runtime.integrations.django.routes import record_route

__all__ = ["RouteMiddleware"]


class RouteMiddleware:
    """Django middleware (settings path) recording the route template for obskit.

    Sync and async capable; it reads ``request.resolver_match`` after the view, so it adds no
    URL matching and can sit anywhere in ``MIDDLEWARE``.  Redundant, and harmless, when Django is
    instrumented automatically.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self._async = _is_coroutine_function(get_response)
        if self._async:
            from asgiref.sync import markcoroutinefunction

            markcoroutinefunction(self)
        # Built by load_middleware, after django.setup() configured logging.
        json_django_logs()

    def __call__(self, request: Any) -> Any:
        if self._async:
            return self.__acall__(request)
        response = self.get_response(request)
        record_route(request)
        return response

    async def __acall__(self, request: Any) -> Any:
        """The async path (an ASGI handler with async middleware)."""
        response = await self.get_response(request)
        record_route(request)
        return response


def _is_coroutine_function(func: Any) -> bool:
    from asgiref.sync import iscoroutinefunction

    result: bool = iscoroutinefunction(func)
    return result
