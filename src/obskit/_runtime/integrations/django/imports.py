"""When Django is patched: at once when its handler modules are loaded, else by a post-import
hook as they are imported — obskit never imports Django itself (~0.1 s, which a FastAPI service
that merely has Django installed should not pay)."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any, Final

from obskit._runtime.integrations.django import handlers

__all__ = ["PostImportHook", "install", "is_patched"]

_PATCHES: Final[dict[str, Callable[[types.ModuleType], None]]] = {
    handlers.BASE: handlers.patch_base,
    handlers.WSGI: handlers.patch_wsgi,
    handlers.ASGI: handlers.patch_asgi,
}
_patched: set[str] = set()


def is_patched() -> bool:
    """Whether Django is instrumented automatically in this process (its URL resolution hooked;
    each handler class is wrapped as soon as its module is imported)."""
    return handlers.BASE in _patched and not handlers.is_degraded()


def _patch(name: str, mod: types.ModuleType) -> None:
    if name in _patched:
        return
    _patched.add(name)
    _PATCHES[name](mod)
    if set(_PATCHES) <= _patched:
        _remove_hook()


class PostImportHook(importlib.abc.MetaPathFinder):
    """Patches Django's handler modules right after they are imported (first in
    ``sys.meta_path``; it finds nothing itself, it only wraps the real loader)."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _PATCHES or fullname in _patched:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            spec: importlib.machinery.ModuleSpec | None = (
                find(fullname, path, target) if find is not None else None
            )
            if spec is not None:
                break
        else:
            return None
        loader: Any = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return None

        def exec_and_patch(module: types.ModuleType) -> None:
            exec_module(module)
            _patch(fullname, module)

        loader.exec_module = exec_and_patch  # this module's own loader instance
        return spec


_hook: PostImportHook | None = None


def _remove_hook() -> None:
    global _hook
    if _hook is not None and _hook in sys.meta_path:
        sys.meta_path.remove(_hook)
    _hook = None


def install() -> None:
    """Instrument Django's handlers now if imported, else as soon as they are; idempotent."""
    global _hook
    for name in _PATCHES:  # base first: the handler modules import it
        mod = sys.modules.get(name)
        if mod is not None:
            _patch(name, mod)
    pending = not set(_PATCHES) <= _patched
    if pending and _hook is None and importlib.util.find_spec("django") is not None:
        _hook = PostImportHook()
        sys.meta_path.insert(0, _hook)
