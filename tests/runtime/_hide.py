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
import types
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
        # A slot (``__slots__``, a frozen dataclass's field) lives in the original descriptor.
        if self.name in getattr(obj, "__dict__", ()):
            return obj.__dict__[self.name]
        if self.original is _MISSING:
            raise AttributeError(self.name)
        getter = getattr(self.original, "__get__", None)
        return self.original if getter is None else getter(obj, owner)

    def __set__(self, obj: Any, value: Any) -> None:
        if _from_obskit():
            raise self._gone()
        setter = getattr(self.original, "__set__", None)
        if setter is not None:
            setter(obj, value)
        else:
            obj.__dict__[self.name] = value

    def __delete__(self, obj: Any) -> None:
        if _from_obskit():
            raise self._gone()
        deleter = getattr(self.original, "__delete__", None)
        if deleter is not None:
            deleter(obj)
        else:
            del obj.__dict__[self.name]


def hide(owner: type, name: str) -> None:
    """Hide ``owner.name`` from obskit (for the rest of the process)."""
    setattr(owner, name, Hidden(owner, name))


def hide_module_attribute(module: types.ModuleType, name: str) -> None:
    """Hide ``module.name`` from obskit (for the rest of the process): ``from module import
    name`` and ``module.name`` raise for obskit's code, as after an upstream rename, while the
    module's own functions (which read their globals directly) keep working."""

    class _Hiding(type(module)):  # type: ignore[misc]
        def __getattribute__(self, attr: str) -> Any:
            if attr == name:
                # 0: this method, 1: the frame doing the access (``from m import x`` included).
                caller = sys._getframe(1).f_globals.get("__name__", "")
                if isinstance(caller, str) and (caller == "obskit" or caller.startswith("obskit.")):
                    raise AttributeError(f"module {module.__name__!r} has no {name!r} (renamed)")
            return super().__getattribute__(attr)

    module.__class__ = _Hiding
