"""Route templates on Starlette releases whose router does not record the matched route.

obskit reads the route template from ``scope["route"]``, where the router put the route it
matched — never matching again.  Starlette's own ``Router`` records it from 1.7.0 on; FastAPI
records it for its ``APIRoute`` only.  On an older Starlette, without this module, every plain
Starlette route (and every mount) would be reported as ``<unmatched>``.

At start-up, :func:`install` runs the router once on a probe request.  If ``scope["route"]`` is
missing, it wraps ``matches()`` of Starlette's route classes so the child scope they return names
the route — exactly what 1.7's router stores.  The wrapper costs one Python call per route the
router tries (it runs only on such releases); if the probe itself fails, the wrapper is installed
too, since it is correct on every release.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["install", "router_records_route"]

_MARK: Final = "_obskit_records_route"
_SCOPE: Final[dict[str, Any]] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/obskit-probe",
    "raw_path": b"/obskit-probe",
    "root_path": "",
    "query_string": b"",
    "headers": [],
    "server": ("127.0.0.1", 80),
    "client": ("127.0.0.1", 1),
}


class _Probe:
    """An ASGI endpoint that remembers whether the router told it its route."""

    def __init__(self) -> None:
        self.seen: bool | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.seen = "route" in scope


def router_records_route() -> bool:
    """Whether this Starlette's ``Router`` stores the matched route in ``scope["route"]``.

    Raises whatever the probe raises (the caller treats any failure as "no").
    """
    from starlette.routing import Route, Router

    # The release's own matches(), even once install() has wrapped it: otherwise a second
    # probe in the same process would see the wrapper's recording and answer "yes".
    own = Route.__dict__["matches"]
    native = own.__wrapped__ if getattr(own, _MARK, False) else own
    native_route = type("_NativeRoute", (Route,), {"matches": native})
    probe = _Probe()
    router = Router(routes=[native_route("/obskit-probe", probe)])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    # Nothing here awaits real I/O: the coroutine runs to completion on its first step.
    coroutine = router.app(dict(_SCOPE), receive, send)
    try:
        coroutine.send(None)
    except StopIteration:
        pass
    else:
        coroutine.close()
        raise RuntimeError("the router probe did not complete in one step")
    if probe.seen is None:
        raise RuntimeError("the router probe never reached its endpoint")
    return probe.seen


def _wrap(cls: type) -> None:
    original = cls.__dict__.get("matches")
    if original is None or getattr(original, _MARK, False):
        return
    from starlette.routing import Match

    def matches(self: Any, scope: Any) -> Any:
        match, child_scope = original(self, scope)
        if match is not Match.NONE:
            child_scope["route"] = self  # what Router.app stores from Starlette 1.7 on
        return match, child_scope

    matches.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(matches, _MARK, True)
    cls.matches = matches  # type: ignore[attr-defined]


def install(*, force: bool = False) -> bool:
    """Make Starlette's route classes record the matched route if its router does not.

    Returns:
        Whether the route classes were wrapped (``False`` when the router records the route
        itself, or Starlette is not installed).
    """
    try:
        from starlette import routing
    except ImportError:
        return False
    if not force:
        try:
            if router_records_route():
                return False
        except Exception:  # noqa: S110 - a failed probe: the wrapper is safe anyway
            pass
    for cls in (routing.Route, routing.WebSocketRoute, routing.Mount, routing.Host):
        _wrap(cls)
    return True
