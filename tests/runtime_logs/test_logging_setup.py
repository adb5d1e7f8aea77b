"""Logging set-up the application already has, before or after ``init()``: obskit's JSON bridge
stays the one console output, and one JSON warning says which console handlers it replaced."""

from __future__ import annotations

from pathlib import Path

from .conftest import json_lines, run_python

REPLACED = "plain-text console handlers replaced by obskit's JSON lines"


def test_logger_with_its_own_console_handler_before_init_prints_once() -> None:
    """A named logger given a plain StreamHandler (stdout, and one on stderr) before ``init()``:
    after ``init()`` each line comes out once, as JSON, and one warning names both handlers."""
    result = run_python(
        """
        import logging, sys
        app = logging.getLogger("app")
        app.addHandler(logging.StreamHandler(sys.stdout))
        logging.getLogger("app.db").addHandler(logging.StreamHandler())  # stderr
        import obskit
        obskit.init("svc")
        app.warning("once")
        logging.getLogger("app.db").warning("db once")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    events = json_lines(result.stdout)
    assert [(e["logger"], e["event"]) for e in events] == [
        ("obskit", REPLACED),
        ("app", "once"),
        ("app.db", "db once"),
    ]
    assert events[0]["level"] == "warning"
    assert sorted(events[0]["replaced"]) == [
        "app.db: StreamHandler(<stderr>)",
        "app: StreamHandler(<stdout>)",
    ]


def test_non_propagating_logger_with_a_console_handler_comes_out_as_json() -> None:
    """A logger with ``propagate = False`` and a console handler (as some libraries set up):
    its lines still come out, once, as JSON through the bridge."""
    result = run_python(
        """
        import logging
        lib = logging.getLogger("lib")
        lib.addHandler(logging.StreamHandler())
        lib.propagate = False
        import obskit
        obskit.init("svc")
        lib.warning("from lib")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    events = json_lines(result.stdout)
    assert [(e["logger"], e["event"]) for e in events][-1] == ("lib", "from lib")
    assert len(events) == 2  # the warning, then the line


def test_dictconfig_after_init_keeps_the_bridge_and_says_what_it_replaced(tmp_path: Path) -> None:
    """``logging.config.dictConfig`` after ``init()`` installing a plain console handler on the
    root: lines stay JSON (once), one JSON warning names the replaced handler, and a file
    handler from the same config keeps writing its file."""
    log_file = tmp_path / "app.log"
    result = run_python(
        f"""
        import logging, logging.config
        import obskit
        obskit.init("svc")
        logging.config.dictConfig({{
            "version": 1,
            "formatters": {{"plain": {{"format": "%(levelname)s %(name)s %(message)s"}}}},
            "handlers": {{
                "console": {{"class": "logging.StreamHandler", "formatter": "plain"}},
                "file": {{"class": "logging.FileHandler", "filename": {str(log_file)!r},
                          "formatter": "plain"}},
            }},
            "root": {{"handlers": ["console", "file"], "level": "INFO"}},
        }})
        logging.getLogger("app").info("after dictConfig")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    events = json_lines(result.stdout)
    assert [(e["logger"], e["event"]) for e in events] == [
        ("obskit", REPLACED),
        ("app", "after dictConfig"),
    ]
    assert events[0]["replaced"] == ["root: StreamHandler(<stderr>)"]
    assert log_file.read_text().splitlines() == [
        f"WARNING obskit {REPLACED}",
        "INFO app after dictConfig",
    ]


def test_fileconfig_after_init_keeps_the_bridge(tmp_path: Path) -> None:
    """``logging.config.fileConfig`` after ``init()``: the same rule as dictConfig."""
    ini = tmp_path / "logging.ini"
    ini.write_text(
        "[loggers]\nkeys=root\n\n[handlers]\nkeys=console\n\n[formatters]\nkeys=plain\n\n"
        "[logger_root]\nlevel=INFO\nhandlers=console\n\n"
        "[handler_console]\nclass=StreamHandler\nformatter=plain\nargs=(sys.stdout,)\n\n"
        "[formatter_plain]\nformat=%(levelname)s %(message)s\n"
    )
    result = run_python(
        f"""
        import logging, logging.config
        import obskit
        obskit.init("svc")
        logging.config.fileConfig({str(ini)!r}, disable_existing_loggers=False)
        logging.getLogger("app").info("after fileConfig")
        """
    )
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert [(e["logger"], e["event"]) for e in events] == [
        ("obskit", REPLACED),
        ("app", "after fileConfig"),
    ]
    assert events[0]["replaced"] == ["root: StreamHandler(<stdout>)"]


def test_module_level_loggers_and_basicconfig_before_init_come_out_as_json() -> None:
    """The common orderings: ``obskit.get_logger()`` (also ``.bind()``-ed) and a stdlib logger
    created at module level before ``init()``, and a framework's ``basicConfig`` before it —
    every line logged after ``init()`` is JSON, once; the root replacement needs no warning."""
    result = run_python(
        """
        import logging
        logging.basicConfig(level=logging.INFO)
        import obskit, structlog
        slog = obskit.get_logger("mod.structlog")
        bound = obskit.get_logger("mod.bound").bind(component="c")
        std = logging.getLogger("mod.stdlib")
        lazy = structlog.get_logger("mod.lazy")
        obskit.init("svc")
        slog.info("structlog after init", n=1)
        bound.info("bound after init")
        std.info("stdlib after init")
        lazy.info("structlog proxy after init")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    events = json_lines(result.stdout)
    assert [(e["logger"], e["event"]) for e in events] == [
        ("mod.structlog", "structlog after init"),
        ("mod.bound", "bound after init"),
        ("mod.stdlib", "stdlib after init"),
        ("mod.lazy", "structlog proxy after init"),
    ]
    assert events[0]["n"] == 1
    assert events[1]["component"] == "c"
    assert all(e["service"] == "svc" for e in events)


def test_uvicorn_own_dictconfig_is_not_reported() -> None:
    """uvicorn's own logging config (its loggers' handlers) is replaced silently, as before:
    no warning line, uvicorn's lines JSON."""
    result = run_python(
        """
        import logging, uvicorn, obskit
        obskit.init("svc")
        uvicorn.Config(app="x:y", log_level="info")
        logging.getLogger("uvicorn.error").info("Started server process")
        """
    )
    assert result.returncode == 0, result.stderr
    assert [e["event"] for e in json_lines(result.stdout)] == ["Started server process"]


def test_calls_that_raise_before_any_handler_are_safe_after_init() -> None:
    """Two failures that happen in the logging call itself, before obskit's processor or
    handler runs: structlog's ``%`` interpolation with wrong arguments, and a stdlib ``extra``
    with keys LogRecord owns (``name``, ``msg``: ``KeyError`` today). Each call returns and
    writes one JSON line; the clashing keys are kept as ``field_<name>``."""
    result = run_python(
        """
        import logging, obskit
        obskit.init("svc")
        obskit.get_logger("app").info("%d items", "x")
        logging.getLogger("lib").warning("body", extra={"name": "n", "msg": "m", "ok": 1})
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    first, second = json_lines(result.stdout)
    assert (first["logger"], first["event"]) == ("app", "%d items ('x',)")
    assert (second["logger"], second["event"]) == ("lib", "body")
    assert (second["field_name"], second["field_msg"], second["ok"]) == ("n", "m", 1)


def test_logger_made_before_init_follows_testing_runtimes_and_back() -> None:
    """``obskit.get_logger()`` made before ``init()``: its lines go to obskit's JSON after
    ``init()``, into an ``obskit.testing`` runtime's captured events while one is active, and
    back to stdout after it (it keeps no stale pipeline)."""
    result = run_python(
        """
        import obskit
        from obskit.testing import IsolatedRuntime
        early = obskit.get_logger("early")
        obskit.init("svc")
        early.info("before runtime")
        with IsolatedRuntime() as rt:
            early.info("inside runtime")
            early.info("inside again")
        early.info("after runtime")
        import sys
        sys.stderr.write(repr([e["event"] for e in rt.events]))
        """
    )
    assert result.returncode == 0, result.stderr
    assert [e["event"] for e in json_lines(result.stdout)] == ["before runtime", "after runtime"]
    assert result.stderr == "['inside runtime', 'inside again']"
