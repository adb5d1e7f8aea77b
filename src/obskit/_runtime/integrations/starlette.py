"""Starlette/FastAPI: instrumented after ``init()`` with no further line.

Starlette builds its middleware stack lazily, on the first request: obskit wraps
``Starlette.build_middleware_stack`` so the built stack is wrapped once, whenever the app was
created.  Nothing is added through ``add_middleware``, hence no "cannot add middleware after an
application has started" error, and a rebuilt stack is wrapped again exactly once.  When that
method is gone (a release that builds its stack otherwise), nothing is patched, one JSON warning
says so, and ``app = obskit.instrument(app)`` wraps the app as plain ASGI instead.

Route templates on Starlette releases whose router does not record the matched route:

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

import inspect
import logging
import sys
import types
from typing import Any, Final

from obskit._runtime.http.asgi import ObskitASGI
from obskit._runtime.integrations.base import Framework, find_missing

__all__ = [
    "NATIVE_TELEMETRY_WARNING",
    "STARLETTE",
    "install",
    "instrument",
    "is_starlette",
    "patch",
    "router_records_route",
]

STARLETTE: Final = Framework(
    "starlette", "starlette", (0, 30), (2, 0), "app = obskit.instrument(app)"
)
_BUILD: Final = "starlette.applications.Starlette.build_middleware_stack"
_patched: set[str] = set()

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
    # Starlette 0.27 routes in Router.__call__ itself (no Router.app, no middleware stack).
    app = getattr(router, "app", router)
    coroutine = app(dict(_SCOPE), receive, send)
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


#: The one warning (per process) when a FastAPI app's own telemetry cannot be switched off.
NATIVE_TELEMETRY_WARNING: Final = (
    "FastAPI's own OpenTelemetry telemetry could not be switched off: its requests get "
    "FastAPI's own spans (a server span, its operation spans) besides obskit's server span"
)
#: Set once the warning was written (it is about the process, not one app).
_warned = False


def _disable_native_telemetry(app: Any) -> None:
    """FastAPI ≥ 0.16x has its own OpenTelemetry server spans once a provider is set: switch
    them off for apps obskit instruments, or every request would get two server spans.

    Through the app's private ``_telemetry`` dict (the one its public ``FastAPI(telemetry=...)``
    keyword fills), read by FastAPI on every request.  When that dict is not there (a release
    that renamed it) on a FastAPI whose constructor takes ``telemetry``, nothing is switched off
    and one JSON warning names the internal and the public way to do it; the request is served
    and obskit's own span exported as always."""
    config = getattr(app, "_telemetry", None)
    if isinstance(config, dict) and "tracing" in config:
        for key in ("tracing", "metrics", "logs", "operation_spans"):
            if key in config:
                config[key] = False
        return
    global _warned
    if _warned or not _has_native_telemetry(app):
        return
    _warned = True
    # Lazy: the tracing set-up (OTel SDK, exporter) is not this module's import cost.
    from obskit._runtime.tracing.setup import context_free

    context_free(
        logging.getLogger("obskit").warning,
        NATIVE_TELEMETRY_WARNING,
        extra={
            "internal": "fastapi: FastAPI._telemetry (a dict with a 'tracing' key)",
            "error": "FastAPI._telemetry is not there"
            if config is None
            else f"FastAPI._telemetry is a {type(config).__name__} without 'tracing'",
            "use": "FastAPI(telemetry={'tracing': False, 'metrics': False, 'logs': False})",
        },
    )


def _has_native_telemetry(app: Any) -> bool:
    """Whether ``app`` is a FastAPI app of a release with native telemetry (its public
    ``telemetry`` constructor keyword); only asked when ``_telemetry`` is not found."""
    fastapi = sys.modules.get("fastapi")
    if fastapi is None or not isinstance(app, fastapi.FastAPI):
        return False
    try:
        return "telemetry" in inspect.signature(fastapi.FastAPI.__init__).parameters
    except (TypeError, ValueError):  # no signature to read: assume it has it
        return True


def _wrap_build(original: Any) -> Any:
    def build_middleware_stack(self: Any) -> Any:
        stack = original(self)
        if isinstance(stack, ObskitASGI):
            return stack
        _disable_native_telemetry(self)
        return ObskitASGI(stack, _starlette_kind(self))

    build_middleware_stack.__wrapped__ = original  # type: ignore[attr-defined]
    build_middleware_stack._obskit = True  # type: ignore[attr-defined]
    return build_middleware_stack


def _starlette_kind(app: Any) -> str:
    """``FASTAPI`` or ``STARLETTE``: whose ``OTEL_PYTHON_<X>_EXCLUDED_URLS`` applies to ``app``."""
    fastapi = sys.modules.get("fastapi")
    return "FASTAPI" if fastapi is not None and isinstance(app, fastapi.FastAPI) else "STARLETTE"


def _patch_class(cls: type) -> None:
    """Wrap ``cls.build_middleware_stack`` if ``cls`` itself defines it (FastAPI overrides it)."""
    own = cls.__dict__.get("build_middleware_stack")
    if own is not None and not getattr(own, "_obskit", False):
        cls.build_middleware_stack = _wrap_build(own)  # type: ignore[attr-defined]
    subclasses: list[type] = type.__subclasses__(cls)
    for sub in subclasses:
        _patch_class(sub)


def _record_routes() -> None:
    if install():
        STARLETTE.applied("starlette.routing.Route.matches")
        logging.getLogger("obskit").debug(
            "starlette: this router does not record scope['route'] (before 1.7): route "
            "classes wrapped so route templates are still read, never re-matched"
        )


def patch() -> None:
    """Instrument every Starlette/FastAPI app of this process (idempotent); degrade with one
    warning when ``build_middleware_stack`` is gone."""
    if "starlette" in _patched or "degraded" in _patched:
        return
    try:
        from starlette.applications import Starlette
    except ImportError:
        return
    missing = find_missing(Starlette, "starlette.applications.Starlette", "build_middleware_stack")
    if missing is not None:
        _patched.add("degraded")
        STARLETTE.degraded(missing)
        # obskit.instrument(app) is the fallback: before Starlette 1.7 it needs the route
        # classes to record the matched route, which does not depend on the missing target.
        _record_routes()
        return
    _patch_class(Starlette)
    STARLETTE.applied(_BUILD)
    _record_routes()
    previous = Starlette.__dict__.get("__init_subclass__")

    def __init_subclass__(cls: type, /, **kwargs: Any) -> None:
        # Subclasses defined after init() (FastAPI imported later) are patched as well.
        if previous is not None:
            previous.__func__(cls, **kwargs)
        _patch_class(cls)

    Starlette.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]
    _patched.add("starlette")


def is_starlette(app: Any) -> bool:
    mod = sys.modules.get("starlette.applications")
    return mod is not None and isinstance(app, mod.Starlette)


def instrument(app: Any) -> Any:
    """Instrument one Starlette/FastAPI app: in place (returned) through its middleware-stack
    build, or — when this release has no ``build_middleware_stack`` — wrapped as plain ASGI."""
    build = getattr(type(app), "build_middleware_stack", None)
    if build is None:
        return ObskitASGI(app, _starlette_kind(app))
    stack = getattr(app, "middleware_stack", None)
    if stack is not None and not isinstance(stack, ObskitASGI):
        app.middleware_stack = None  # served before init(): rebuilt, wrapped, next request
    if "starlette" not in _patched:
        app.build_middleware_stack = types.MethodType(_wrap_build(build), app)
        app.middleware_stack = None  # rebuilt, wrapped, on the next request
    return app
