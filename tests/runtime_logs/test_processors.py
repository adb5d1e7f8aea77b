"""The application's own log processors (``init(log_processors=[...])``): they add fields to
every application line, redaction still applies to what they add, and a failing one never costs
the line (one JSON warning per processor)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
import structlog

import obskit
from obskit._runtime.config import resolve
from obskit._runtime.redact import REDACTED
from obskit.testing import IsolatedRuntime

from .conftest import Rendered, json_lines, run_python


def add_team(logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A team's processor: its own field, the logger name and level it was given, and a
    secret that redaction must still catch."""
    event["team"] = "payments"
    event["seen"] = f"{logger.name}/{method}"
    event["password"] = "hunter2"
    return event


calls: list[str] = []


def broken(logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A processor with a bug: it changes the event, then raises."""
    calls.append(str(event.get("event")))
    event["half_done"] = True
    raise KeyError("region")


def returns_none(logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
    """A processor that forgets to return the event."""
    event["lost"] = True


def drop_health(logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
    """Drops lines about health checks, as structlog's ``DropEvent`` does."""
    if event.get("event") == "health":
        raise structlog.DropEvent
    return event


def _rendered(capsysbinary: pytest.CaptureFixture[bytes], *processors: Any) -> Iterator[Rendered]:
    with IsolatedRuntime(log_processors=list(processors)) as runtime:
        runtime.state.pipeline.capture = None
        yield Rendered(runtime, capsysbinary)


@pytest.fixture
def team(capsysbinary: pytest.CaptureFixture[bytes]) -> Iterator[Rendered]:
    """Lines rendered with ``add_team`` configured."""
    yield from _rendered(capsysbinary, add_team)


def test_a_processor_adds_fields_to_structlog_and_stdlib_lines_and_they_are_redacted(
    team: Rendered,
) -> None:
    """``add_team`` runs on a structlog line and a stdlib line alike; the secret it adds is
    redacted (processors run before redaction), its other fields are kept as they are."""
    obskit.get_logger("shop").info("paid", amount=3)
    event = team.one()
    assert (event["event"], event["amount"], event["team"]) == ("paid", 3, "payments")
    assert event["seen"] == "shop/info"
    assert event["password"] == REDACTED
    logging.getLogger("lib").warning("retrying")
    event = team.one()
    assert (event["event"], event["team"], event["seen"]) == ("retrying", "payments", "lib/warning")
    assert event["password"] == REDACTED


def test_a_raising_processor_costs_one_warning_never_the_line(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """The first failure writes one JSON warning naming the processor and the error, then the
    line (the next processor still run); the second failure writes only the line."""
    calls.clear()
    for out in _rendered(capsysbinary, broken, add_team):
        obskit.get_logger("shop").info("first")
        warning, first = (json.loads(line) for line in out.new_lines())
        assert warning["event"] == "log processor failed: the line is written without its result"
        assert warning["level"] == "warning"
        assert warning["logger"] == "obskit"
        assert warning["processor"].endswith("test_processors.broken")
        assert warning["error"] == "KeyError: 'region'"
        assert (first["event"], first["team"]) == ("first", "payments")
        logging.getLogger("lib").error("second")
        second = out.one()
        assert (second["event"], second["level"], second["team"]) == ("second", "error", "payments")
    assert calls == ["first", "second"]


def test_a_processor_returning_no_event_dict_is_skipped_with_one_warning(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """A processor returning None is reported once ("returned NoneType") and the line keeps
    the event as it was handed to it."""
    for out in _rendered(capsysbinary, returns_none):
        obskit.get_logger("shop").info("a")
        warning, line = (json.loads(raw) for raw in out.new_lines())
        assert warning["error"] == "returned NoneType, not an event dict"
        assert line["event"] == "a"
        obskit.get_logger("shop").info("b")
        assert out.one()["event"] == "b"


def test_drop_event_drops_the_line_on_both_paths_without_raising(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """``structlog.DropEvent`` from a processor drops a structlog line and a stdlib line (the
    log call returns normally); other lines come out."""
    for out in _rendered(capsysbinary, drop_health):
        obskit.get_logger("shop").info("health")
        logging.getLogger("lib").warning("health")
        assert out.new_lines() == []
        logging.getLogger("lib").warning("kept")
        assert out.one()["event"] == "kept"
        assert b"Logging error" not in out.stderr


@pytest.mark.parametrize("value", ["add_team", [1], 3])
def test_a_bad_log_processors_value_is_a_clear_error(value: Any) -> None:
    """Not a list of callables: ``ValueError`` naming the option, at start-up."""
    with pytest.raises(ValueError, match="obskit option 'log_processors'"):
        resolve({"log_processors": value})


def test_init_log_processors_in_a_real_process() -> None:
    """``obskit.init(log_processors=[...])`` in a fresh interpreter: the structlog and stdlib
    lines on stdout carry the processor's field, with redaction applied to what it added."""
    result = run_python(
        """
        import logging, obskit
        def add_region(logger, method, event):
            event["region"] = "eu-west-1"
            event["api_key"] = "k-123"
            return event
        obskit.init("svc", log_processors=[add_region])
        obskit.get_logger("app").info("one")
        logging.getLogger("lib").warning("two")
        """
    )
    assert result.returncode == 0, result.stderr
    lines = [e for e in json_lines(result.stdout) if e["event"] in ("one", "two")]
    assert [(e["event"], e["region"], e["api_key"]) for e in lines] == [
        ("one", "eu-west-1", REDACTED),
        ("two", "eu-west-1", REDACTED),
    ]
