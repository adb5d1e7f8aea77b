"""A minimal Django project configured in code: settings, URLs and views in one module.

Used in-process by the tests (imported as ``tests.runtime_django.apps.djproject``) and by the
served apps in this folder (``PYTHONPATH`` = this folder, imported as ``djproject``).
``configure()`` must run once per process, before Django builds a handler.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path

import obskit

#: The Django route templates, in the form obskit reports them (leading slash, as Flask and
#: Starlette routes).
ROUTES = {
    "items": "/items/<int:item_id>",
    "things": "/api/things/<slug:name>",
    "boom": "/boom",
    "healthz": "/healthz",
    "legacy": "/legacy/(?P<year>[0-9]{4})/$",
}
ROUTE_MIDDLEWARE = "obskit.django.RouteMiddleware"

std = logging.getLogger("app")


def settings_dict(*, route_middleware: bool = False) -> dict[str, Any]:
    """This project's settings.

    ``DEBUG=True`` on purpose: Django's default logging then adds a plain-text console handler
    to the ``django`` logger, which obskit must take out of the way.
    """
    return {
        "DEBUG": True,
        "SECRET_KEY": "test-only-not-a-secret",
        "ALLOWED_HOSTS": ["*"],
        "ROOT_URLCONF": __name__,
        "MIDDLEWARE": [ROUTE_MIDDLEWARE] if route_middleware else [],
        "INSTALLED_APPS": [],
        "USE_TZ": True,
    }


def configure(*, route_middleware: bool = False, **overrides: Any) -> None:
    """``settings.configure()`` with :func:`settings_dict` and ``overrides``."""
    settings.configure(**{**settings_dict(route_middleware=route_middleware), **overrides})


def get_item(request: HttpRequest, item_id: int) -> JsonResponse:
    """One structlog line and one stdlib line inside the request."""
    # Looked up per call: in-process tests swap obskit's runtime after this module is imported.
    obskit.get_logger("app.structlog").info("item.structlog", item_id=item_id)
    std.info("item.stdlib %s", item_id, extra={"item_id": item_id})
    return JsonResponse({"item_id": item_id, "pid": os.getpid()})


def get_thing(request: HttpRequest, name: str) -> JsonResponse:
    """A route inside an ``include()``."""
    return JsonResponse({"name": name})


def boom(request: HttpRequest) -> JsonResponse:
    """Raises: Django answers 500 and logs the exception (``django.request``)."""
    raise RuntimeError("boom-marker: the view failed on purpose")


def get_legacy(request: HttpRequest, year: str) -> JsonResponse:
    """A ``re_path`` (regex) pattern."""
    return JsonResponse({"year": year})


def healthz(request: HttpRequest) -> JsonResponse:
    """A probe path, excluded from metrics, spans and access lines by default."""
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("items/<int:item_id>", get_item),
    path("api/", include([path("things/<slug:name>", get_thing)])),
    path("boom", boom),
    path("healthz", healthz),
    re_path(r"^legacy/(?P<year>[0-9]{4})/$", get_legacy),
]
