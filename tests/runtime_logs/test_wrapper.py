"""obskit's structlog ``wrapper_class``: a log call never raises on its ``%`` arguments, through
structlog's public extension point only (no private structlog function is read or replaced)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import structlog

from obskit._runtime.logs.wrapper import safe_bound_logger

from .conftest import json_lines, run_python

#: Well-formed calls: obskit's logger must produce exactly structlog's own message for each.
GOOD: list[tuple[str, tuple[Any, ...]]] = [
    ("plain", ()),
    ("100%% done", ()),  # no arguments: never interpolated, by structlog either
    ("%s items", ("a",)),
    ("%d of %d", (1, 2)),
    ("%(n)s left", ({"n": 5},)),  # one non-empty mapping: by name
    ("%s", ({},)),  # an empty mapping is a positional argument
    ("%s", ((1, 2),)),
    ("%r and %.2f", ("x", 1.5)),
]
#: Calls that make structlog's own bound logger raise in the caller.
BAD: list[tuple[str, tuple[Any, ...]]] = [
    ("%d items", ("x",)),
    ("%s %s", ("only one",)),
    ("%(missing)s", ({"n": 1},)),
    ("no placeholder", ("extra",)),
]
_METHODS = ("debug", "info", "warning", "error", "critical", "msg", "warn", "fatal")


def _logger(cls: type, seen: list[str] | None = None) -> Any:
    """A logger of ``cls`` whose calls return the final event string (also appended to
    ``seen``: structlog's async level methods return None)."""

    def last(_logger: Any, _name: str, event_dict: Any) -> str:
        event: str = event_dict["event"]
        if seen is not None:
            seen.append(event)
        return event

    return structlog.wrap_logger(structlog.ReturnLogger(), processors=[last], wrapper_class=cls)


@pytest.mark.parametrize(("template", "args"), GOOD)
def test_well_formed_calls_give_structlogs_own_message(
    template: str, args: tuple[Any, ...]
) -> None:
    """Every level method, its alias, ``log()`` and the async variant give exactly the message
    structlog's own filtering logger gives (interpolation rules unchanged)."""
    ours = _logger(safe_bound_logger(logging.DEBUG))
    theirs = _logger(structlog.make_filtering_bound_logger(logging.DEBUG))
    for method in _METHODS:
        assert getattr(ours, method)(template, *args) == getattr(theirs, method)(template, *args)
    assert ours.log(logging.INFO, template, *args) == theirs.log(logging.INFO, template, *args)
    seen: list[str] = []
    asyncio.run(
        _logger(structlog.make_filtering_bound_logger(logging.DEBUG), seen).ainfo(template, *args)
    )
    asyncio.run(_logger(safe_bound_logger(logging.DEBUG), seen).ainfo(template, *args))
    assert seen[0] == seen[1]


@pytest.mark.parametrize(("template", "args"), BAD)
def test_bad_arguments_raise_in_structlog_but_not_through_obskit(
    template: str, args: tuple[Any, ...]
) -> None:
    """structlog's own logger raises for these calls (so the case is real); obskit's returns
    the template followed by the arguments' repr, for every method, ``log()``, ``exception()``
    and the async variants."""
    theirs = _logger(structlog.make_filtering_bound_logger(logging.DEBUG))
    with pytest.raises((TypeError, KeyError, ValueError)):
        theirs.info(template, *args)
    ours = _logger(safe_bound_logger(logging.DEBUG))
    expected = f"{template} {args!r}"
    for method in (*_METHODS, "exception"):
        assert getattr(ours, method)(template, *args) == expected
    assert ours.log(logging.WARNING, template, *args) == expected
    seen: list[str] = []
    asynchronous = _logger(safe_bound_logger(logging.DEBUG), seen)
    asyncio.run(asynchronous.aerror(template, *args))
    asyncio.run(asynchronous.alog(logging.ERROR, template, *args))
    asyncio.run(asynchronous.aexception(template, *args))
    assert seen == [expected] * 3


def test_a_filtered_out_level_formats_nothing() -> None:
    """Below the minimum level the call is structlog's own no-op: the arguments are never
    formatted (an object whose ``__str__`` raises is not touched) and nothing is returned."""

    class Loud:
        def __str__(self) -> str:
            raise AssertionError("formatted")

    ours = _logger(safe_bound_logger(logging.INFO))
    assert ours.debug("%s", Loud()) is None
    assert ours.log(logging.DEBUG, "%s", Loud()) is None
    assert asyncio.run(ours.adebug("%s", Loud())) is None
    assert ours.info("%s", "shown") == "shown"


def test_structlogs_private_interpolation_renamed_changes_nothing() -> None:
    """``structlog._native._maybe_interpolate`` hidden from obskit's code (as an upstream rename
    would): after ``init()`` a bad ``%`` call still writes one JSON line with the template and
    the arguments, a good one its interpolated message, and no warning is logged."""
    result = run_python(
        """
        import _hide
        from structlog import _native
        _hide.hide_module_attribute(_native, "_maybe_interpolate")
        import obskit
        obskit.init("svc")
        log = obskit.get_logger("app")
        log.info("%d items", "x")
        log.info("%s items", 3)
        """,
        env={"PYTHONPATH": str(Path(__file__).parents[1] / "runtime")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    events = json_lines(result.stdout)
    assert [(e["level"], e["event"]) for e in events] == [
        ("info", "%d items ('x',)"),
        ("info", "3 items"),
    ]
