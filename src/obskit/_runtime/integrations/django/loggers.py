"""Django's loggers sent through obskit's JSON pipeline instead of its plain console handlers."""

from __future__ import annotations

import logging

from obskit._runtime import state as _state

__all__ = ["json_django_logs"]


def _is_console(handler: logging.Handler) -> bool:
    # Exactly StreamHandler: Django's "console" and "django.server" handlers. FileHandler,
    # AdminEmailHandler and users' own handler classes are kept.
    return type(handler) is logging.StreamHandler


def json_django_logs() -> None:
    """Send ``django.*`` loggers through obskit's JSON pipeline (after ``django.setup()``).

    Django's default logging writes plain text to stderr (``console`` with ``DEBUG=True``,
    ``django.server`` under ``runserver``); those stream handlers are removed and the loggers
    propagate to the root bridge.  A ``LOGGING`` setting that replaced the root handlers gets the
    bridge back.
    """
    st = _state.STATE
    if st is None:
        return
    from obskit._runtime.logs.bridge import BridgeHandler, bridge_stdlib

    root = logging.getLogger()
    if not any(isinstance(h, BridgeHandler) for h in root.handlers):
        bridge_stdlib(st.pipeline)
    manager = logging.Logger.manager
    names = [n for n in list(manager.loggerDict) if n == "django" or n.startswith("django.")]
    for name in names:
        logger = manager.loggerDict[name]
        if not isinstance(logger, logging.Logger):
            continue
        console = [h for h in logger.handlers if _is_console(h)]
        for handler in console:
            logger.removeHandler(handler)
        if console:
            logger.propagate = True
