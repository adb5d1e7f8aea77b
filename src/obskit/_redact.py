"""Secret redaction for log events, span attributes and events, query strings and paths.

Rule (documented in ``docs/runtime.md``): a key is lower-cased, ``-``/``.`` become ``_``, it is
split on ``_``, and it is secret when any *suffix* of its parts (joined with ``_``) is in the key
set.  ``db_password`` and ``x-api-key`` match; ``auth_method`` and ``token_count`` do not — the
secret word must end the key.  Decisions are cached per key, so the hot path is a dict lookup.

Every structure a log event can carry is walked (bounded depth, cycle-safe, never raising):
mappings, lists/tuples/sets, ``(key, value)`` pairs, and objects — dataclasses, pydantic models,
attrs instances and other ``__dict__``-bearing objects become a dict of their fields with the
class name under :data:`TYPE_KEY`.  What no key names (free text) is only reached by the user's
value patterns (``redact_patterns``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from enum import Enum
from types import FunctionType, MethodType, ModuleType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote_plus

from obskit._config import normalise_key

if TYPE_CHECKING:
    from obskit._config import Config

__all__ = ["CYCLE", "REDACTED", "TOO_DEEP", "TRUNCATED", "TYPE_KEY", "Redactor"]

REDACTED: Final = "[REDACTED]"
#: The key under which an object rendered as a dict carries its class name.
TYPE_KEY: Final = "__type__"
#: What replaces a container met again inside itself.
CYCLE: Final = "[cycle]"
#: What replaces a container or object nested deeper than ``_MAX_DEPTH``.
TOO_DEEP: Final = "[too deep]"
#: What replaces what is left of a value once ``_MAX_NODES`` containers/objects were walked.
TRUNCATED: Final = "[truncated]"
_MAX_DEPTH: Final = 8
#: Containers and objects walked per value at most (an object graph, e.g. a framework request
#: holding its app, stays a bounded line).
_MAX_NODES: Final = 500
_CACHE_MAX: Final = 4096
#: Values returned as they are (no walk); a ``str`` is scrubbed when value patterns are set.
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
#: Objects the renderer shows in their own way (``repr``/native JSON), never as a field dict.
_OPAQUE: Final = (BaseException, type, ModuleType, Enum, FunctionType, MethodType, str, bytes)
#: ``&``/``;``-separated ``name=value`` parameters (query strings; ``;`` parameters in paths).
_SEPARATORS: Final = re.compile(r"([&;])")
_PATH_PARAM: Final = re.compile(r"([;?&])([^;?&/=]*)=([^;?&/]*)")
_BRACKETS: Final = re.compile(r"[\[\]\s]+")


def _compile(patterns: Iterable[str | re.Pattern[str]]) -> tuple[re.Pattern[str], ...]:
    return tuple(p if isinstance(p, re.Pattern) else re.compile(p) for p in patterns)


class Redactor:
    """Decides which keys are secret and replaces their values (and pattern matches)."""

    __slots__ = ("_cache", "_keys", "_params", "patterns")

    def __init__(
        self, keys: frozenset[str], patterns: Iterable[str | re.Pattern[str]] = ()
    ) -> None:
        self._keys = keys
        self._cache: dict[str, bool] = {}
        self._params: dict[str, bool] = {}
        #: The user's value patterns (``redact_patterns``): matches in strings are replaced.
        self.patterns = _compile(patterns)

    @classmethod
    def from_config(cls, config: Config) -> Redactor:
        """The redactor ``config`` asks for (``redact_keys`` and ``redact_patterns``)."""
        return cls(config.redact_keys, config.redact_patterns)

    def is_secret(self, key: str) -> bool:
        """Whether ``key`` names a secret (cached)."""
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        parts = normalise_key(key).split("_")
        secret = any("_".join(parts[i:]) in self._keys for i in range(len(parts)))
        if len(self._cache) < _CACHE_MAX:
            self._cache[key] = secret
        return secret

    def _key_is_secret(self, key: object) -> bool:
        if isinstance(key, str):
            return self.is_secret(key)
        if isinstance(key, bytes):  # ASGI header names
            return self.is_secret(key.decode("latin-1"))
        return False

    def scrub(self, text: str) -> str:
        """``text`` with every match of the user's value patterns replaced."""
        for pattern in self.patterns:
            text = pattern.sub(REDACTED, text)
        return text

    def scrub_free_text(self, line: dict[str, Any]) -> None:
        """Apply the value patterns to a log line's free text: the message and the exception's
        message and traceback (keys cannot reach them)."""
        event = line.get("event")
        if type(event) is str:
            line["event"] = self.scrub(event)
        exc = line.get("exception")
        if isinstance(exc, dict):
            for key in ("message", "traceback"):
                if type(exc.get(key)) is str:
                    exc[key] = self.scrub(exc[key])

    # -- log events ----------------------------------------------------------------------------

    def redact_event(
        self, event: dict[str, Any], converted: list[str] | None = None
    ) -> dict[str, Any]:
        """Redact a log event in place: secret keys at any depth, objects turned into dicts.

        The keys whose values were rendered differently from the value itself (objects, sets,
        cycles, cuts) are appended to ``converted`` when it is given.
        """
        scrub = bool(self.patterns)
        for key, value in event.items():
            if self.is_secret(key):
                event[key] = REDACTED
            elif type(value) not in _SCALARS:
                event[key], lossy = self.walk_marked(value)
                if lossy and converted is not None:
                    converted.append(key)
            elif scrub and type(value) is str:
                event[key] = self.scrub(value)
        return event

    def walk(self, value: Any) -> Any:
        """A copy of ``value`` safe to render: secrets redacted, objects as dicts (never raises)."""
        return self.walk_marked(value)[0]

    def walk_marked(self, value: Any) -> tuple[Any, bool]:
        """:meth:`walk`, and whether anything was rendered differently from the value itself."""
        budget = _Budget()
        try:
            return self._walk(value, 1, budget), budget.lossy
        except Exception:  # a log call never fails on its values
            return {TYPE_KEY: _type_name(value)}, True

    def _walk(self, value: Any, depth: int, budget: _Budget) -> Any:
        kind = type(value)
        if kind in _SCALARS:
            return self.scrub(value) if kind is str and self.patterns else value
        if depth > _MAX_DEPTH:
            budget.lossy = True
            return TOO_DEEP
        ident = id(value)
        seen = budget.seen
        if ident in seen:
            budget.lossy = True
            return CYCLE
        budget.left -= 1
        if budget.left < 0:
            budget.lossy = True
            return TRUNCATED
        seen.add(ident)
        try:
            return self._convert(value, kind, depth + 1, budget)
        finally:
            seen.discard(ident)

    def _convert(self, value: Any, kind: type, deeper: int, budget: _Budget) -> Any:
        if kind is dict or isinstance(value, Mapping):
            mapping: dict[Any, Any] = {}
            for k, v in value.items():
                if budget.left <= 0:
                    mapping[TRUNCATED] = len(value) - len(mapping)  # entries left out
                    budget.lossy = True
                    break
                mapping[k] = REDACTED if self._key_is_secret(k) else self._walk(v, deeper, budget)
            return mapping
        if kind is tuple and len(value) == 2 and self._key_is_secret(value[0]):
            return [value[0], REDACTED]  # a (key, value) pair: headers, parse_qsl(), items()
        if isinstance(value, (list, tuple, set, frozenset)):
            if not isinstance(value, (list, tuple)):
                budget.lossy = True  # a set has no JSON form: rendered as a list
            items = []
            for v in value:
                if budget.left <= 0:
                    items.append(TRUNCATED)
                    budget.lossy = True
                    break
                items.append(self._walk(v, deeper, budget))
            return items
        if isinstance(value, _OPAQUE):
            return value
        try:
            if callable(getattr(kind, "get_secret_value", None)):
                return REDACTED  # pydantic's SecretStr/SecretBytes and look-alikes
            names = _field_names(value, kind)
        except Exception:  # a hostile class: show its name only
            budget.lossy = True
            return {TYPE_KEY: _type_name(value)}
        if names is None:
            return value  # no fields to show (slots, C types): the renderer's job
        budget.lossy = True  # an object shown as its fields
        out: dict[str, Any] = {TYPE_KEY: _type_name(value)}
        for name, read in names:
            if self.is_secret(name):
                out[name] = REDACTED  # not even read: a property is not called
                continue
            try:
                field = read()
            except Exception as exc:  # a raising property must not fail the log call
                out[name] = f"[unreadable: {type(exc).__qualname__}]"
                continue
            out[name] = self._walk(field, deeper, budget)
        return out

    # -- URLs ----------------------------------------------------------------------------------

    def param_is_secret(self, name: str) -> bool:
        """Whether a URL parameter name names a secret, decoded as a server would decode it:
        percent-escapes and ``+`` (``api%5Fkey``), brackets (``user[password]``, ``token[]``).
        Cached per raw name (the hot path is one dict lookup)."""
        hit = self._params.get(name)
        if hit is not None:
            return hit
        secret = self._param_is_secret(name)
        if len(self._params) < _CACHE_MAX:
            self._params[name] = secret
        return secret

    def _param_is_secret(self, name: str) -> bool:
        for _ in range(3):  # doubly encoded names too
            if "%" not in name and "+" not in name:
                break
            name = unquote_plus(name)
        if "[" in name or "]" in name or " " in name:
            parts = [p for p in _BRACKETS.split(name) if p]
            while len(parts) > 1 and parts[-1].isdigit():
                parts.pop()  # user[password][0]: the index is not the name
            name = "_".join(parts)
        return self.is_secret(name)

    def redact_query(self, query: str) -> str:
        """A URL query string with the values of secret parameters replaced (``&`` and ``;``
        separators, names decoded as :meth:`param_is_secret` says)."""
        if not query:
            return query
        params = self._params
        for pair in query.split("&"):  # the usual case: no secret, no ``;``: the query itself
            name, sep, _value = pair.partition("=")
            if sep:
                secret = params.get(name)
                if secret or (secret is None and self.param_is_secret(name)):
                    break
        else:
            if ";" not in query:
                return self.scrub(query) if self.patterns else query
        if ";" in query:
            parts = _SEPARATORS.split(query)  # separators kept at odd indexes
            step = 2
        else:
            parts = query.split("&")
            step = 1
        changed = False
        is_secret = self.param_is_secret
        for i in range(0, len(parts), step):
            name, sep, _value = parts[i].partition("=")
            if sep and is_secret(name):
                parts[i] = f"{name}={REDACTED}"
                changed = True
        out = ("".join(parts) if step == 2 else "&".join(parts)) if changed else query
        return self.scrub(out) if self.patterns else out

    def redact_path(self, path: str) -> str:
        """A URL path with the values of secret ``;name=value`` (matrix) parameters replaced
        (and of ``?name=value`` ones, a ``%3F`` the server decoded into the path)."""

        def replace(match: re.Match[str]) -> str:
            if self.param_is_secret(match[2]):
                return f"{match[1]}{match[2]}={REDACTED}"
            return match[0]

        out = _PATH_PARAM.sub(replace, path)
        return self.scrub(out) if self.patterns else out


class _Budget:
    """One walk's state: the containers on the current path, the nodes still allowed."""

    __slots__ = ("left", "lossy", "seen")

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.left = _MAX_NODES
        #: Something was rendered differently from the value itself (an object as its fields, a
        #: set as a list, a cycle, a cut): the log line names the field in ``obskit_converted``.
        self.lossy = False


def _type_name(value: object) -> str:
    """The class's qualified name, without the ``<locals>`` of a class defined in a function."""
    try:
        return str(type(value).__qualname__).rpartition("<locals>.")[2]
    except Exception:  # a metaclass that hides even this
        return "?"


def _field_names(value: Any, kind: type) -> list[tuple[str, Any]] | None:
    """``(name, reader)`` for each field the object shows, or None when it has none to show.

    Fields a class hides from its ``repr`` (dataclass/attrs/pydantic ``repr=False``) and
    private attributes (a leading ``_``) are left out.
    """
    if dataclasses.is_dataclass(kind):
        return [(f.name, _reader(value, f.name)) for f in dataclasses.fields(value) if f.repr]
    pydantic_fields = getattr(kind, "__pydantic_fields__", None)
    if isinstance(pydantic_fields, Mapping):  # pydantic v2
        out = [
            (name, _reader(value, name))
            for name, info in pydantic_fields.items()
            if getattr(info, "repr", True)
        ]
        extra = getattr(value, "__pydantic_extra__", None)
        if isinstance(extra, Mapping):
            out += [(str(k), _item(extra, k)) for k in extra]
        return out
    attrs_fields = getattr(kind, "__attrs_attrs__", None)
    if attrs_fields is not None:
        return [(a.name, _reader(value, a.name)) for a in attrs_fields if a.repr is not False]
    v1_fields = getattr(kind, "__fields__", None)
    if isinstance(v1_fields, Mapping) and hasattr(kind, "__config__"):  # pydantic.v1
        return [(str(name), _reader(value, str(name))) for name in v1_fields]
    try:
        own = object.__getattribute__(value, "__dict__")
    except AttributeError:
        return None
    if not isinstance(own, dict):
        return None
    return [(k, _item(own, k)) for k in list(own) if isinstance(k, str) and not k.startswith("_")]


def _reader(obj: Any, name: str) -> Any:
    return lambda: getattr(obj, name)


def _item(mapping: Mapping[Any, Any], key: Any) -> Any:
    return lambda: mapping[key]
