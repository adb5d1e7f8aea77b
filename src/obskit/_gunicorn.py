"""gunicorn's *master* process in obskit's JSON: ``--logger-class obskit.GunicornLogger``.

Without ``--preload`` the master never imports the application, so ``obskit.init()`` never runs
there and its own lines ("Starting gunicorn", "Booting worker …") would stay plain text.  This
logger class, selected on the command line or in ``gunicorn.conf.py``, routes the master's lines
through obskit's pipeline (service identity from ``OBSKIT_SERVICE_NAME``/``OTEL_SERVICE_NAME``)
and leaves gunicorn's plain access log off — the workers write obskit's JSON access line.  It
configures logging only: the workers' ``obskit.init()`` still does the full set-up.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

__all__ = ["GunicornLogger"]


class GunicornLogger(Logger):  # type: ignore[misc]
    """A gunicorn logger class whose output is obskit's JSON lines."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from obskit import _logs, _state
        from obskit._config import resolve
        from obskit._redact import Redactor
        from obskit._render import PIPE_LINE_MAX_BYTES

        st = _state.STATE
        if st is not None:  # --preload: init() already ran in this process
            _logs.bridge_stdlib(st.pipeline)
            return
        # A bad variable falls back to its default here; each worker's init() reports it.
        config = resolve({"metrics_port": 0}, problems=[])
        # The master's lines share stdout with its workers': the multi-worker cap.
        pipeline = _logs.LogPipeline(config, Redactor.from_config(config), PIPE_LINE_MAX_BYTES)
        _logs.configure_structlog(pipeline)
        _logs.bridge_stdlib(pipeline)

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """No plain access line: obskit's middleware writes the JSON one."""
        return None
