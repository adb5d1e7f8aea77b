"""What obskit says when a dependency's private internal fails: one JSON warning, shared by
the ``init()`` self-test (``selftest.py``) and the signals that find an internal missing later
(the exporter's send path, a forked worker's ``Resource``), so every such line reads alike."""

from __future__ import annotations

from typing import Final

__all__ = ["SELFTEST_WARNING"]

SELFTEST_WARNING: Final = (
    "private internal failed obskit's self-test: the public API is used instead (slower, same "
    "output)"
)
