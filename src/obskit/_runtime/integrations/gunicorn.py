"""gunicorn's *master* process in obskit's JSON: ``--logger-class obskit.GunicornLogger``.

Without ``--preload`` the master never imports the application, so ``obskit.init()`` never runs
there and its own lines ("Starting gunicorn", "Booting worker …") would stay plain text.  This
logger class, selected on the command line or in ``gunicorn.conf.py``, routes the master's lines
through obskit's pipeline (service identity from ``OBSKIT_SERVICE_NAME``/``OTEL_SERVICE_NAME``)
and leaves gunicorn's plain access log off — the workers write obskit's JSON access line.  It
configures logging only: the workers' ``obskit.init()`` still does the full set-up.

:func:`patch_logging`: a worker's ``init()`` (gunicorn already imported) wraps
``Logger.setup``, so gunicorn (re)configuring its loggers gives obskit's bridge back.
"""

from __future__ import annotations

from typing import Any, Final

from gunicorn import glogging
from gunicorn.glogging import Logger

from obskit._runtime import state as _state
from obskit._runtime.integrations.base import Framework, find_missing
from obskit._runtime.logs.bridge import bridge_stdlib

__all__ = ["GUNICORN", "GunicornLogger", "patch_logging"]

GUNICORN: Final = Framework(
    "gunicorn", "gunicorn", (21, 2), None, "--logger-class obskit.GunicornLogger"
)


def patch_logging() -> None:
    """Wrap ``gunicorn.glogging.Logger.setup`` (idempotent; degrade with a warning)."""
    cls: Any = glogging.Logger
    if getattr(cls, "_obskit", False):
        return
    missing = find_missing(cls, "gunicorn.glogging.Logger", "setup")
    cls._obskit = True
    if missing is not None:
        GUNICORN.degraded(missing)
        return
    original_setup = cls.setup

    def setup(self: Any, cfg: Any) -> None:
        original_setup(self, cfg)
        st = _state.STATE
        if st is not None:
            bridge_stdlib(st.pipeline)

    cls.setup = setup
    GUNICORN.applied("gunicorn.glogging.Logger.setup")


class GunicornLogger(Logger):  # type: ignore[misc]
    """A gunicorn logger class whose output is obskit's JSON lines."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from obskit._runtime import state as _state
        from obskit._runtime.config import resolve
        from obskit._runtime.logs import bridge, loggers
        from obskit._runtime.logs.pipeline import LogPipeline
        from obskit._runtime.logs.render import PIPE_LINE_MAX_BYTES
        from obskit._runtime.redact import Redactor

        st = _state.STATE
        if st is not None:  # --preload: init() already ran in this process
            bridge.bridge_stdlib(st.pipeline)
            return
        # A bad variable falls back to its default here; each worker's init() reports it.
        config = resolve({"metrics_port": 0}, problems=[])
        # The master's lines share stdout with its workers': the multi-worker cap.
        pipeline = LogPipeline(config, Redactor.from_config(config), PIPE_LINE_MAX_BYTES)
        loggers.configure_structlog(pipeline)
        bridge.bridge_stdlib(pipeline)

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """No plain access line: obskit's middleware writes the JSON one."""
        return None
