"""One log event → one JSON line that always encodes and always fits its cap.

The guarantees and numbers are documented in ``docs/runtime.md`` ("What a log call guarantees")
and named once, here.  The fast path is untouched by them: one ``orjson.dumps`` without a
``default`` and one length check.  Only when orjson raises (a value it cannot encode: an int over
64 bits, a tuple key, a cycle, a lone surrogate, an object with no JSON form …) are the offending
fields rebuilt by :func:`sanitise`; only when the line is longer than its cap is it cut by
:func:`fit`.  Both keep the line one valid JSON object and say what they did in a marker field.
"""

from __future__ import annotations

import reprlib
import select
from typing import Any, Final

import orjson

__all__ = [
    "CONVERTED_FIELD",
    "ERROR_FIELD",
    "LINE_MAX_BYTES",
    "OWN_FIELDS",
    "PIPE_LINE_MAX_BYTES",
    "REPR_MAX_CHARS",
    "TRUNCATED_FIELD",
    "USER_FIELD_PREFIX",
    "dumps",
    "fit",
    "keep_user_fields",
    "safe_text",
]

#: A caller's key named like one of obskit's own fields is kept under this prefix
#: (``log.info("x", level="admin")`` → ``"field_level": "admin"``); obskit's value stays.
USER_FIELD_PREFIX: Final = "field_"
#: Names of the fields (top level) whose values orjson could not encode and were converted.
CONVERTED_FIELD: Final = "obskit_converted"
#: ``{"bytes": <size of the full line>, "fields": [<fields cut or dropped>]}`` on a cut line.
TRUNCATED_FIELD: Final = "obskit_truncated"
#: ``"<ExceptionType>: <message>"`` when building the line itself failed (a bug, never silent).
ERROR_FIELD: Final = "obskit_error"
#: Kept on a cut line (their strings cut, never dropped), in this order.
_CORE: Final = (
    "timestamp",
    "level",
    "logger",
    "event",
    "service",
    "service_version",
    "environment",
    "trace_id",
    "span_id",
)
#: Fields that only obskit writes; a caller's key of the same name goes under the prefix.
OWN_FIELDS: Final = frozenset({*_CORE, "exception", CONVERTED_FIELD, TRUNCATED_FIELD, ERROR_FIELD})
#: Cap of one line (with its newline) in a single process.  Docker's and the CRI's log readers
#: split longer lines into partial records anyway.
LINE_MAX_BYTES: Final = 65536
#: Cap in multi-worker mode: workers share one stdout pipe, and only a ``write()`` of at most
#: ``PIPE_BUF`` bytes (4096 on Linux) is atomic — a longer line can be split by a sibling's line.
PIPE_LINE_MAX_BYTES: Final = min(4096, getattr(select, "PIPE_BUF", 4096))
#: A converted value is its ``repr`` cut to this many characters (then ``…``).
REPR_MAX_CHARS: Final = 1000
#: Containers nested deeper than this are rendered as their (bounded) repr; orjson stops at 254.
_MAX_DEPTH: Final = 64
_INT_MIN: Final = -(2**63)
_INT_END: Final = 2**64
_OPTIONS: Final = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
_CUT: Final = "…"

_dumps = orjson.dumps


class _BoundedRepr(reprlib.Repr):
    """``reprlib``'s bounded repr of containers (20 items, 3 levels), but other objects'
    own ``repr`` whole: :func:`bounded_repr` cuts the result, keeping its start."""

    def repr_instance(self, x: Any, level: int) -> str:
        return repr(x)


_repr = _BoundedRepr()
_repr.maxlevel = 3
_repr.maxstring = _repr.maxlong = 4 * REPR_MAX_CHARS
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = _repr.maxdict = 20
_repr.maxdeque = _repr.maxarray = 20


def keep_user_fields(event: dict[str, Any]) -> dict[str, Any]:
    """Move the caller's keys named like obskit's fields under :data:`USER_FIELD_PREFIX`."""
    for key in OWN_FIELDS.intersection(event):
        event[USER_FIELD_PREFIX + key] = event.pop(key)
    return event


def dumps(out: dict[str, Any], cap: int) -> bytes:
    """``out`` as one JSON line (newline included) of at most ``cap`` bytes; never raises
    for any value (the caller's keys are already safe from :func:`keep_user_fields`)."""
    try:
        line = _dumps(out, option=_OPTIONS)
    except Exception:  # orjson.JSONEncodeError (a TypeError) — anything else is caught too
        out = sanitise(out)
        line = _dumps(out, option=_OPTIONS)
    if len(line) > cap:
        line = fit(out, len(line), cap)
    return line


# ---------------------------------------------------------------------------------------------
# Values orjson cannot encode
# ---------------------------------------------------------------------------------------------
def sanitise(out: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``out`` whose every field encodes: fields that do are kept as they are, the
    others rebuilt by :func:`_safe`, their names listed in :data:`CONVERTED_FIELD`."""
    result: dict[str, Any] = {}
    # Fields redaction already rendered differently (objects, sets, cycles) come first.
    converted: list[str] = list(out.get(CONVERTED_FIELD) or ())
    for key, value in out.items():
        if key == CONVERTED_FIELD:
            continue
        try:
            _dumps({key: value}, option=_OPTIONS)
        except Exception:
            safe_key = safe_text(key) if isinstance(key, str) else _safe_key(key)
            result[safe_key] = _safe(value, 0, set())
            if safe_key not in converted:
                converted.append(safe_key)
        else:
            result[key] = value
    if converted:
        result[CONVERTED_FIELD] = converted
    return result


def _safe(value: Any, depth: int, active: set[int]) -> Any:
    """``value`` with every part orjson cannot encode replaced by a string."""
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, int):
        return value if _INT_MIN <= value < _INT_END else _int_text(value)
    if isinstance(value, (dict, list, tuple)):
        if depth >= _MAX_DEPTH:
            return bounded_repr(value)
        if id(value) in active:  # a container that contains itself
            return f"<cycle: {type(value).__name__}>"
        active.add(id(value))
        try:
            if isinstance(value, dict):
                return {_safe_key(k): _safe(v, depth + 1, active) for k, v in value.items()}
            return [_safe(v, depth + 1, active) for v in value]
        finally:
            active.discard(id(value))
    try:
        _dumps(value, option=_OPTIONS)
    except Exception:
        return bounded_repr(value)
    return value


def _safe_key(key: Any) -> Any:
    """A dict key orjson accepts with ``OPT_NON_STR_KEYS`` (str, in-range int, float, bool,
    None), else its bounded repr."""
    if isinstance(key, str):
        return safe_text(key)
    if key is None or isinstance(key, (bool, float)):
        return key
    if isinstance(key, int):
        return key if _INT_MIN <= key < _INT_END else _int_text(key)
    return bounded_repr(key)


def safe_text(text: str) -> str:
    """``text`` if it is valid UTF-8, else with its lone surrogates as ``\\udc80`` escapes."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()
    return text


def _int_text(value: int) -> str:
    try:
        return _cut_chars(str(value))
    except ValueError:  # over sys.get_int_max_str_digits()
        return f"<int of {value.bit_length()} bits>"


def bounded_repr(value: Any) -> str:
    """``repr(value)`` bounded in cost and cut at :data:`REPR_MAX_CHARS` characters; a
    placeholder when ``repr`` itself fails."""
    try:
        text = _repr.repr(value)
        if not isinstance(text, str):
            raise TypeError("repr returned a non-string")
    except Exception as exc:
        return f"<{type(value).__qualname__} object; repr failed: {type(exc).__qualname__}>"
    return safe_text(_cut_chars(text))


def _cut_chars(text: str) -> str:
    return text if len(text) <= REPR_MAX_CHARS else text[:REPR_MAX_CHARS] + _CUT


# ---------------------------------------------------------------------------------------------
# Lines over the cap
# ---------------------------------------------------------------------------------------------
def fit(out: dict[str, Any], size: int, cap: int) -> bytes:
    """A line of at most ``cap`` bytes from ``out`` (encodable; its line is ``size`` bytes).

    The core fields stay (their strings cut: ``event`` to a quarter of the cap, names to a
    sixteenth); the other fields share what is left, smallest first: each is kept whole if it
    fits its fair share, else cut to it (a string keeps its start, an exception its type, the
    first line and the end of its traceback, anything else the start of its JSON text), or
    dropped when the share is too small to say anything.  :data:`TRUNCATED_FIELD` says how big
    the line was and which fields were cut or dropped.
    """
    name_max = max(64, cap // 16)
    core: dict[str, Any] = {}
    for key in _CORE:
        if key in out:
            value = out[key]
            if isinstance(value, str) and key not in ("timestamp", "trace_id", "span_id"):
                value = _cut_head(value, cap // 4 if key == "event" else name_max)
            core[key] = value
    rest = [(k, v) for k, v in out.items() if k not in core and k != TRUNCATED_FIELD]
    listed = [_cut_head(str(k), 64) for k, _ in rest[:16]]
    marker: dict[str, Any] = {"bytes": size, "fields": listed}
    budget = cap - len(_dumps({**core, TRUNCATED_FIELD: marker}, option=_OPTIONS))
    needs = [len(_dumps({k: v}, option=_OPTIONS)) - 2 for k, v in rest]  # `"k":v,` size
    kept: dict[int, Any] = {}
    cut: set[int] = set()
    left = len(rest)
    for i in sorted(range(len(rest)), key=needs.__getitem__):
        share = budget // left if left else 0
        left -= 1
        if needs[i] <= share:
            kept[i] = rest[i][1]
            budget -= needs[i]
            continue
        cut.add(i)
        key_bytes = len(_dumps(rest[i][0])) + 2
        room = share - key_bytes
        if room >= 24:
            kept[i] = _cut_value(rest[i][0], rest[i][1], room)
            budget -= key_bytes + len(_dumps(kept[i]))
    result = dict(core)
    for i, (key, _value) in enumerate(rest):
        if i in kept:
            result[key] = kept[i]
    marker["fields"] = [_cut_head(str(rest[i][0]), 64) for i in sorted(cut)][:16]
    result[TRUNCATED_FIELD] = marker
    line = _dumps(result, option=_OPTIONS)
    if len(line) > cap:  # the shares were estimates: fall back to the core alone, cut harder
        fixed = ("timestamp", "level", "trace_id", "span_id")
        small: dict[str, Any] = {k: core[k] for k in fixed if k in core}
        small["event"] = _cut_head(str(core.get("event", "")), max(24, cap // 8))
        small[TRUNCATED_FIELD] = {"bytes": size, "fields": ["*"]}
        line = _dumps(small, option=_OPTIONS)
    return line


def _cut_value(key: Any, value: Any, room: int) -> Any:
    """``value`` encoded in at most ``room`` bytes (see :func:`fit`)."""
    if isinstance(value, str):
        return _cut_head(value, room)
    if key == "exception" and isinstance(value, dict):
        head = {
            "type": _cut_head(str(value.get("type", "")), 128),
            "message": _cut_head(str(value.get("message", "")), max(24, room // 4)),
        }
        tb_room = room - len(_dumps(head)) - len('"traceback":,')
        if tb_room >= 24:
            head["traceback"] = _cut_traceback(str(value.get("traceback", "")), tb_room)
        return head
    return _cut_head(_dumps(value, option=orjson.OPT_NON_STR_KEYS).decode(), room)


def _cut_traceback(text: str, max_bytes: int) -> str:
    """A traceback in at most ``max_bytes`` bytes (JSON string): its first line, ``…``, then
    its end — the frames nearest the failure and the exception line."""
    first, newline, rest = text.partition("\n")
    if not newline or not first.startswith("Traceback"):
        return _cut_tail(text, max_bytes)
    head = first + newline
    room = max_bytes - len(_dumps(head)) + 2  # the two JSON strings share one pair of quotes
    if room < 24:
        return _cut_tail(text, max_bytes)
    return head + _cut_tail(rest, room)


def _cut_head(text: str, max_bytes: int) -> str:
    """The start of ``text`` (then ``…``) whose JSON string is at most ``max_bytes`` bytes."""
    return _cut(text, max_bytes, tail=False)


def _cut_tail(text: str, max_bytes: int) -> str:
    """``…`` then the end of ``text``, at most ``max_bytes`` bytes as a JSON string."""
    return _cut(text, max_bytes, tail=True)


def _cut(text: str, max_bytes: int, *, tail: bool) -> str:
    size = len(_dumps(text))
    if size <= max_bytes:
        return text
    keep = min(len(text), max_bytes)
    while keep > 0:
        candidate = _CUT + text[-keep:] if tail else text[:keep] + _CUT
        size = len(_dumps(candidate))
        if size <= max_bytes:
            return candidate
        # Escapes and multi-byte characters take more than a byte each: shrink in proportion.
        keep = min(keep - 1, keep * max_bytes // size)
    return _CUT if max_bytes >= len(_dumps(_CUT)) else ""
