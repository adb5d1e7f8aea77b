"""uvicorn: its logging set-up, which runs after ``init()``, gives obskit's bridge back.

uvicorn configures logging when its ``Config`` loads (``Config.configure_logging``), replacing
the root handlers obskit installed; the wrapped method re-installs the bridge right after.
Patched only when uvicorn is already imported at ``init()`` (it imports the application).
"""

from __future__ import annotations

import sys
from typing import Any, Final

from obskit._runtime import state as _state
from obskit._runtime.integrations.base import Framework, find_missing
from obskit._runtime.logs.bridge import bridge_stdlib

__all__ = ["UVICORN", "patch_logging"]

UVICORN: Final = Framework(
    "uvicorn", "uvicorn", (0, 20), None, "uvicorn --log-config with obskit.LogHandler"
)


def patch_logging() -> None:
    """Wrap ``uvicorn.config.Config.configure_logging`` (idempotent; degrade with a warning)."""
    module = sys.modules.get("uvicorn.config")
    if module is None:
        return
    config = getattr(module, "Config", None)
    if config is None or getattr(config, "_obskit", False):
        return
    missing = find_missing(config, "uvicorn.config.Config", "configure_logging")
    if missing is not None:
        config._obskit = True
        UVICORN.degraded(missing)
        return
    original = config.configure_logging

    def configure_logging(self: Any) -> None:
        original(self)
        st = _state.STATE
        if st is not None:
            bridge_stdlib(st.pipeline)

    config.configure_logging = configure_logging
    config._obskit = True
    UVICORN.applied("uvicorn.config.Config.configure_logging")
