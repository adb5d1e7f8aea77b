"""A log call never raises and writes exactly one JSON line, whatever its values are."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import obskit
from obskit._render import CONVERTED_FIELD, ERROR_FIELD, REPR_MAX_CHARS

from .conftest import Rendered


class NoJson:
    """An object orjson has no form for."""

    def __repr__(self) -> str:
        return "NoJson()"


class BadRepr:
    """An object whose repr raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def _self_containing_dict() -> dict[str, Any]:
    d: dict[str, Any] = {"a": 1}
    d["self"] = d
    return d


def _self_containing_list() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


HOSTILE = {
    "int_over_64_bits": 2**70,
    "negative_int_over_64_bits": -(2**70),
    "tuple_keys": {(1, 2): "a", "ok": 1},
    "self_containing_dict": _self_containing_dict(),
    "self_containing_list": _self_containing_list(),
    "no_json_form": NoJson(),
    "repr_raises": BadRepr(),
    "lone_surrogate": "a\udc80b",
    "int_too_long_for_str": 10**5000,
    "set": {1, 2},
    "decimal": decimal.Decimal("1.5"),
    "nested_depth_300": [[[[[]]]]],  # replaced below
}
_deep: list[Any] = []
_cursor = _deep
for _ in range(300):
    _cursor.append([])
    _cursor = _cursor[0]
HOSTILE["nested_depth_300"] = _deep


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_structlog_call_with_an_unencodable_value_writes_one_json_line(
    rendered: Rendered, case: str
) -> None:
    """``log.info("x", v=<value>)`` returns normally and writes one JSON line whose ``v`` is a
    safe rendering (repr cut at REPR_MAX_CHARS) and whose marker names ``v`` as converted."""
    obskit.get_logger("app").info("hostile", v=HOSTILE[case], fine=1)
    event = rendered.one()
    assert (event["event"], event["level"], event["logger"]) == ("hostile", "info", "app")
    assert event["service"] == "test"
    assert event["fine"] == 1
    assert event[CONVERTED_FIELD] == ["v"]
    assert "v" in event
    assert len(json.dumps(event["v"])) < 40 * REPR_MAX_CHARS


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_stdlib_call_with_an_unencodable_extra_writes_one_json_line(
    rendered: Rendered, case: str
) -> None:
    """``logging`` with ``extra={"v": <value>}`` writes one JSON line (not Python's plain-text
    "--- Logging error ---" block on stderr) with ``v`` converted and marked."""
    logging.getLogger("lib").warning("hostile %s", "extra", extra={"v": HOSTILE[case]})
    event = rendered.one()
    assert (event["event"], event["level"], event["logger"]) == ("hostile extra", "warning", "lib")
    assert event[CONVERTED_FIELD] == ["v"]
    assert b"Logging error" not in rendered.stderr


def test_converted_values_are_their_repr_cut_at_the_documented_size(rendered: Rendered) -> None:
    """An int over 64 bits becomes its digits; tuple keys their repr; objects are shown as their
    fields by redaction (``__type__`` and the fields, secrets redacted) and a cycle says so —
    and every such field is named in the marker, whichever step converted it."""
    long_repr = type("Long", (), {"__repr__": lambda self: "L" * 5000})()
    obskit.get_logger("app").info(
        "x",
        big=2**70,
        obj=NoJson(),
        long=long_repr,
        cyc=_self_containing_dict(),
        bad=BadRepr(),
        keys={(1, 2): "a"},
    )
    event = rendered.one()
    assert event["big"] == str(2**70)
    assert event["obj"] == {"__type__": "NoJson"}
    assert event["long"] == {"__type__": "Long"}  # never its (possibly huge) repr
    assert event["cyc"] == {"a": 1, "self": "[cycle]"}
    assert event["bad"] == {"__type__": "BadRepr"}  # a raising repr is never called
    assert event["keys"] == {"(1, 2)": "a"}
    assert sorted(event[CONVERTED_FIELD]) == sorted(["big", "obj", "long", "cyc", "bad", "keys"])


def test_a_value_the_renderer_cuts_is_its_repr_cut_at_the_documented_size(
    rendered: Rendered,
) -> None:
    """What only the renderer can convert (an int too long for a string, here inside a list)
    comes out as text cut at REPR_MAX_CHARS characters ending with "…", marked."""
    obskit.get_logger("app").info("x", huge=[10**5000])
    event = rendered.one()
    [text] = event["huge"]
    assert len(text) <= REPR_MAX_CHARS + 1
    assert event[CONVERTED_FIELD] == ["huge"]


def test_encodable_values_are_not_marked(rendered: Rendered) -> None:
    """Values orjson encodes natively (datetimes, nested dicts, int keys, 64-bit ints) take the
    fast path unchanged and carry no marker."""
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    obskit.get_logger("app").info("ok", when=when, d={1: "a", "b": [1, 2.5]}, n=2**64 - 1)
    event = rendered.one()
    assert event["when"] == "2026-01-02T03:04:05+00:00"
    assert event["d"] == {"1": "a", "b": [1, 2.5]}
    assert event["n"] == 2**64 - 1
    assert CONVERTED_FIELD not in event


def test_bad_format_arguments_still_give_one_line(rendered: Rendered) -> None:
    """``logging.info("%d items", "x")`` (a format error) gives one JSON line with the
    template and its arguments, not "--- Logging error ---"."""
    root = logging.getLogger()
    # pytest's own capture handler formats the record too, and raises on the format error.
    pytest_handlers = [h for h in root.handlers if type(h).__module__.startswith("_pytest")]
    for handler in pytest_handlers:
        root.removeHandler(handler)
    try:
        logging.getLogger("lib").error("%d items", "x")
    finally:
        for handler in pytest_handlers:
            root.addHandler(handler)
    event = rendered.one()
    assert event["event"] == "%d items"
    assert event["args"] == ["x"]
    assert rendered.stderr == b""


def test_a_failure_inside_the_pipeline_still_gives_one_line(
    rendered: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should building the event itself fail (a bug, e.g. in redaction), the call still returns
    and one JSON line carries the message and ``obskit_error`` naming the failure."""

    class Broken:
        def redact_event(self, event: dict[str, Any], *args: Any) -> dict[str, Any]:
            raise ValueError("redactor bug")

    monkeypatch.setattr(rendered.runtime.state.pipeline, "_redactor", Broken())
    obskit.get_logger("app").info("still here", x=1)
    first = rendered.one()
    logging.getLogger("lib").info("stdlib too", extra={"x": 1})
    second = rendered.one()
    assert (first["event"], first[ERROR_FIELD]) == ("still here", "ValueError: redactor bug")
    assert (second["event"], second[ERROR_FIELD]) == ("stdlib too", "ValueError: redactor bug")
    assert "x" not in first
    assert (first["logger"], second["logger"]) == ("app", "lib")


# ---------------------------------------------------------------------------------------------
# Property: arbitrary nested values through both paths
# ---------------------------------------------------------------------------------------------
_any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=20)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # unbounded: beyond 64 bits too
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    _any_text,
    st.binary(max_size=10),
    st.decimals(allow_nan=True),
    st.complex_numbers(),
    st.datetimes(),
    st.builds(NoJson),
    st.builds(BadRepr),
)
_keys = st.one_of(
    _any_text,
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(),
    st.tuples(st.integers(), st.integers()),
    st.frozensets(st.integers(), max_size=3),
)


def _with_cycle(value: Any) -> Any:
    """``value`` inside a list that also contains itself."""
    holder: list[Any] = [value]
    holder.append(holder)
    return holder


_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(_keys, inner, max_size=4),
        st.frozensets(st.integers(), max_size=3),
        inner.map(_with_cycle),
    ),
    max_leaves=20,
)
_fields = st.dictionaries(_any_text, _values, max_size=4)
_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_SETTINGS
@given(fields=_fields, message=_any_text)
def test_property_structlog_never_raises_one_json_line(
    rendered: Rendered, fields: dict[str, Any], message: str
) -> None:
    """Any keys and nested values through structlog: the call returns, exactly one line, one
    JSON object, obskit's fields intact."""
    obskit.get_logger("prop").warning(message, **fields)
    event = rendered.one()
    assert (event["level"], event["logger"], event["service"]) == ("warning", "prop", "test")


@_SETTINGS
@given(fields=_fields, message=_any_text)
def test_property_stdlib_never_raises_one_json_line(
    rendered: Rendered, fields: dict[str, Any], message: str
) -> None:
    """Any nested values as stdlib ``extra`` (keys prefixed: LogRecord refuses its own
    attribute names itself): the call returns, exactly one line, one JSON object."""
    extra = {f"k_{key}": value for key, value in fields.items()}
    logging.getLogger("prop").error(message, extra=extra)
    event = rendered.one()
    assert (event["level"], event["logger"], event["service"]) == ("error", "prop", "test")
