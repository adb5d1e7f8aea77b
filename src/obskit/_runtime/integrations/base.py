"""What every framework hook declares and how it reports (after opentelemetry-instrumentation's
``BaseInstrumentor.instrumentation_dependencies()``).

A hook patches a framework's *private* entry points (that is what makes ``init()`` enough), so
each declares the releases it was written for and the attributes it patches.  Before patching,
every target is looked up: when one is gone (a release moved it), the framework is left alone
and one JSON warning says it is not auto-instrumented and what to do instead — never a service
whose every request is silently reported as ``<unmatched>``.  Each hook applied logs one debug
line naming the framework, the target and the installed version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import metadata
from typing import Any

__all__ = ["Framework", "find_missing"]

_log = logging.getLogger("obskit.integrations")


def _release(text: str) -> tuple[int, ...]:
    """``"3.1.0rc1"`` → ``(3, 1, 0)``: the numeric release, enough to compare with a range."""
    parts: list[int] = []
    for part in text.split("."):
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(part):
            break
    return tuple(parts)


@dataclass(frozen=True)
class Framework:
    """A framework (or server) obskit hooks, and the releases its hooks were written for."""

    #: The name in log lines (``flask``).
    name: str
    #: The distribution whose version is read (``Flask``).
    distribution: str
    #: Oldest release the hooks were written for (inclusive) and the first one they were not.
    minimum: tuple[int, ...]
    below: tuple[int, ...] | None
    #: What to do when a hook target is missing (the JSON warning's ``use`` field).
    fallback: str

    @property
    def instruments(self) -> str:
        """The requirement, as opentelemetry-instrumentation's ``_instruments`` spell it."""
        low = ".".join(map(str, self.minimum))
        high = f", < {'.'.join(map(str, self.below))}" if self.below else ""
        return f"{self.distribution.lower()} >= {low}{high}"

    def version(self) -> str | None:
        try:
            return metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            return None

    def written_for(self, version: str | None) -> bool:
        """Whether ``version`` is inside :attr:`instruments`."""
        if version is None:
            return False
        release = _release(version)
        return release >= self.minimum and (self.below is None or release < self.below)

    def applied(self, target: str) -> None:
        """One debug line per hook applied."""
        if not _log.isEnabledFor(logging.DEBUG):
            return
        version = self.version()
        _log.debug(
            "framework hook applied",
            extra={
                "framework": self.name,
                "target": target,
                "version": version,
                "instruments": self.instruments,
                "written_for": self.written_for(version),
            },
        )

    def degraded(self, missing: str) -> None:
        """The one JSON warning when a hook target is missing: nothing of the framework is
        patched (a half-patched framework would misreport), the explicit path still works."""
        _log.warning(
            "framework not auto-instrumented: a hook target is missing in this release",
            extra={
                "framework": self.name,
                "missing": missing,
                "version": self.version(),
                "instruments": self.instruments,
                "use": self.fallback,
            },
        )


def find_missing(owner: Any, dotted: str, *attributes: str) -> str | None:
    """The first of ``attributes`` that ``owner`` (named ``dotted`` in the message) lacks, as
    ``dotted.attribute``; None when all are there."""
    for attribute in attributes:
        if getattr(owner, attribute, None) is None:
            return f"{dotted}.{attribute}"
    return None
