"""Route templates on every supported Starlette: the start-up probe tells whether the router
records ``scope["route"]`` (Starlette >= 1.7), and the fallback that makes older routers record
it gives the same templates as the router's own recording.

The floor lane of `.ci/run` runs this file (and test_asgi.py) on the oldest supported
Starlette, where the fallback is what serves every request.
"""

from __future__ import annotations

from typing import Any

import pytest
import starlette
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Mount, Route, WebSocketRoute

from obskit import _starlette_routes
from obskit import conventions as c
from obskit.testing import IsolatedRuntime

from .test_asgi import call, count

ROUTE_CLASSES = (Route, WebSocketRoute, Mount, Host)


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2])


def test_probe_matches_the_release_that_records_the_route() -> None:
    """The probe says yes exactly from Starlette 1.7, the release whose router stores it."""
    assert _starlette_routes.router_records_route() == (_release(starlette.__version__) >= (1, 7))


def test_probe_answers_for_the_release_even_once_the_fallback_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A probe after install() (a second init(), another test) still reports what the
    release's router does, not what obskit's wrapper does."""
    for cls in ROUTE_CLASSES:  # undone after the test
        monkeypatch.setattr(cls, "matches", cls.__dict__["matches"])
    _starlette_routes.install(force=True)
    assert getattr(Route.matches, "_obskit_records_route", False)
    assert _starlette_routes.router_records_route() == (_release(starlette.__version__) >= (1, 7))


def _app() -> Starlette:
    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hi")

    return Starlette(
        routes=[
            Route("/hello/{name}", hello),
            Mount("/api", routes=[Route("/users/{uid}", hello)]),
        ]
    )


def test_fallback_gives_the_routers_own_templates(
    rt: IsolatedRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the route classes wrapped (forced here), a plain route, a route in a mount, a 405
    and a 404 get the same templates as without — on whatever Starlette is installed."""
    for cls in ROUTE_CLASSES:  # undone after the test
        monkeypatch.setattr(cls, "matches", cls.__dict__["matches"])
    assert _starlette_routes.install(force=True) is True
    assert all(getattr(cls.matches, "_obskit_records_route", False) for cls in ROUTE_CLASSES)
    requests = [("GET", "/hello/x"), ("GET", "/api/users/7"), ("POST", "/hello/x"), ("GET", "/x")]
    assert call(_app(), *requests) == [200, 200, 405, 404]
    assert count(rt, http_route="/hello/{name}", http_response_status_code="200") == 1
    assert count(rt, http_route="/api/users/{uid}") == 1
    assert count(rt, http_route="/hello/{name}", http_response_status_code="405") == 1
    assert count(rt, http_route=c.UNMATCHED_ROUTE) == 1


def test_install_wraps_nothing_where_the_router_records_the_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No per-route cost on a Starlette that records the route itself; a failing probe
    installs the (always correct) fallback rather than risking `<unmatched>` everywhere."""
    for cls in ROUTE_CLASSES:  # the unwrapped methods, whatever init() installed
        own = cls.__dict__["matches"]
        monkeypatch.setattr(cls, "matches", getattr(own, "__wrapped__", own))
    monkeypatch.setattr(_starlette_routes, "router_records_route", lambda: True)
    assert _starlette_routes.install() is False
    assert not getattr(Route.matches, "_obskit_records_route", False)

    def broken() -> bool:
        raise RuntimeError("probe broke")

    monkeypatch.setattr(_starlette_routes, "router_records_route", broken)
    assert _starlette_routes.install() is True
    assert getattr(Route.matches, "_obskit_records_route", False)
