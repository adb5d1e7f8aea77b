"""What a Django request hands to obskit's middleware: the matched route and a view's exception.

A ``WSGIRequest``'s ``META`` is the WSGI environ itself; an ``ASGIRequest``'s ``META`` is a
copy, but its ``scope`` is the one the ASGI middleware holds: each value is written where the
middleware of that protocol reads it.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["record_exception", "record_route", "route_template"]


def route_template(route: str, script_name: str = "") -> str:
    """``items/<int:item_id>`` → ``/items/<int:item_id>`` (the form Flask and Starlette report).

    ``script_name`` is where the project is mounted (a deployment constant, not user input).  A
    ``re_path`` pattern is reported as its regex without the leading ``^``.
    """
    return script_name.rstrip("/") + "/" + route.removeprefix("^").removeprefix("/")


def record_route(request: Any) -> None:
    """Copy the resolved pattern where obskit's WSGI (environ) or ASGI (scope) middleware reads
    the route."""
    route = getattr(getattr(request, "resolver_match", None), "route", None)
    if not isinstance(route, str):
        return
    meta = request.META
    template = route_template(route, meta.get("SCRIPT_NAME", "") or "")
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):  # ASGIRequest: META is a copy, the scope is shared
        scope["route"] = template
    else:  # WSGIRequest: META is the WSGI environ itself
        meta["obskit.route"] = template


def record_exception(sender: Any, request: Any = None, **kwargs: Any) -> None:
    """``got_request_exception`` receiver: Django answers 500 itself; the WSGI or ASGI middleware
    records the exception on the span (``environ``/``scope["obskit.error"]``)."""
    exc = sys.exc_info()[1]
    if request is None or exc is None:
        return
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):  # ASGIRequest: META is a copy, the scope is shared
        scope["obskit.error"] = exc
    elif not hasattr(request, "scope"):  # WSGIRequest: META is the WSGI environ itself
        request.META["obskit.error"] = exc
