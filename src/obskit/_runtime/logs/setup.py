"""The logging set-up an application already has, and log calls that raise before obskit runs.

* :func:`watch_logging_config`: ``logging.config.dictConfig``/``fileConfig`` after ``init()``
  put the bridge back instead of silently replacing it;
* :func:`guard_call_errors`: the stdlib's ``extra`` checks, which raise inside the logging call
  itself, made safe (structlog's ``%`` interpolation: ``wrapper.py``).
"""

from __future__ import annotations

import logging
from typing import Any

from obskit._runtime.logs import bridge as _bridge
from obskit._runtime.logs import loggers as _loggers
from obskit._runtime.logs.render import USER_FIELD_PREFIX

__all__ = ["guard_call_errors", "watch_logging_config"]


def guard_call_errors() -> None:
    """The stdlib's ``extra={"name": …}`` (a key LogRecord owns: ``KeyError``, e.g. a request
    body spread into ``extra``), which raises inside the logging call itself before any handler
    runs, made safe: such keys are kept under :data:`USER_FIELD_PREFIX`.  (structlog's own
    ``log.info("%d items", "x")`` is made safe by obskit's ``wrapper_class``,
    :mod:`obskit._runtime.logs.wrapper`.)

    The replacement costs nothing more on a call that does not fail (it runs inside a ``try``).
    """
    if getattr(logging.Logger.makeRecord, "_obskit", False):
        return

    def make_record(
        self: logging.Logger,
        name: str,
        level: int,
        fn: str,
        lno: int,
        msg: object,
        args: Any,
        exc_info: Any,
        func: str | None = None,
        extra: Any = None,
        sinfo: str | None = None,
    ) -> logging.LogRecord:
        """``Logger.makeRecord`` as the stdlib writes it, except that an ``extra`` key the
        record already has is kept under the prefix instead of raising ``KeyError`` (a
        replacement, not a wrapper: no extra call per log line)."""
        record = logging.getLogRecordFactory()(
            name, level, fn, lno, msg, args, exc_info, func, sinfo
        )
        if extra is not None:
            attrs = record.__dict__
            for key in extra:
                if key in ("message", "asctime") or key in attrs:
                    attrs[USER_FIELD_PREFIX + key] = extra[key]
                else:
                    attrs[key] = extra[key]
        return record

    make_record._obskit = True  # type: ignore[attr-defined]
    logging.Logger.makeRecord = make_record  # type: ignore[method-assign]


def watch_logging_config() -> None:
    """After ``init()``, ``logging.config.dictConfig``/``fileConfig`` put obskit's bridge back
    (and say which console handlers they had installed, :func:`bridge_stdlib`)."""
    import logging.config

    configurator: Any = logging.config.DictConfigurator
    if getattr(configurator, "_obskit", False):
        return
    configure = configurator.configure

    def configure_then_bridge(self: Any) -> None:
        configure(self)
        _rebridge()

    configurator.configure = configure_then_bridge
    configurator._obskit = True
    file_config = logging.config.fileConfig

    def file_config_then_bridge(*args: Any, **kwargs: Any) -> None:
        file_config(*args, **kwargs)
        _rebridge()

    logging.config.fileConfig = file_config_then_bridge


def _rebridge() -> None:
    pipeline = _loggers.PIPELINE
    # obskit.testing's isolated runtimes (capturing events) manage their own handler.
    if pipeline is None or pipeline.capture is not None:
        return
    # ``disable_existing_loggers`` must not silence obskit's own warnings.
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and (name == "obskit" or name.startswith("obskit.")):
            logger.disabled = False
    _bridge.bridge_stdlib(pipeline, root_reported=True)
