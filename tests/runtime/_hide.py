"""Make one private attribute of a dependency disappear *for obskit's code only*.

An upstream release that renames a private attribute changes the dependency's own code with it:
the SDK keeps working, only obskit's reads and writes of the old name fail.  :func:`hide`
reproduces exactly that: a data descriptor on the owning class raises ``AttributeError`` when
the access comes from a module of the ``obskit`` package, and behaves as the plain attribute
(instance value or class attribute) for everyone else.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

_MISSING = object()


def _from_obskit() -> bool:
    # 0: this function, 1: the descriptor method, 2: the frame doing the attribute access.
    name = sys._getframe(2).f_globals.get("__name__", "")
    return isinstance(name, str) and (name == "obskit" or name.startswith("obskit."))


class Hidden:
    """``owner.name`` as seen by everyone but obskit."""

    def __init__(self, owner: type, name: str) -> None:
        self.owner = owner
        self.name = name
        self.original = inspect.getattr_static(owner, name, _MISSING)

    def _gone(self) -> AttributeError:
        return AttributeError(f"{self.owner.__name__}.{self.name} is not there (renamed upstream)")

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if _from_obskit():
            raise self._gone()
        if obj is None:
            return self if self.original is _MISSING else self.original
        if self.name in obj.__dict__:
            return obj.__dict__[self.name]
        if self.original is _MISSING:
            raise AttributeError(self.name)
        getter = getattr(self.original, "__get__", None)
        return self.original if getter is None else getter(obj, owner)

    def __set__(self, obj: Any, value: Any) -> None:
        if _from_obskit():
            raise self._gone()
        obj.__dict__[self.name] = value

    def __delete__(self, obj: Any) -> None:
        if _from_obskit():
            raise self._gone()
        del obj.__dict__[self.name]


def hide(owner: type, name: str) -> None:
    """Hide ``owner.name`` from obskit (for the rest of the process)."""
    setattr(owner, name, Hidden(owner, name))
