"""Log lines: fields, ids (sampled and not), stdlib bridge, exceptions, redaction, speed."""

from __future__ import annotations

import json
import logging
import re

import pytest
import structlog

import obskit
from obskit._runtime.config import resolve
from obskit._runtime.logs import loggers as _logs
from obskit._runtime.logs import pipeline as _pipeline
from obskit._runtime.logs.bridge import bridge_stdlib
from obskit._runtime.logs.pipeline import LogPipeline
from obskit._runtime.redact import REDACTED, Redactor
from obskit.testing import IsolatedRuntime

from .conftest import run_python

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_structlog_line_has_the_contract_fields(rt: IsolatedRuntime) -> None:
    """A structlog line carries timestamp, level, logger, event, service and the caller's keys."""
    obskit.get_logger("shop").info("paid", amount=3)
    (event,) = rt.events
    assert TS.match(event["timestamp"])
    assert event["level"] == "info"
    assert event["logger"] == "shop"
    assert event["event"] == "paid"
    assert event["service"] == "test"
    assert event["amount"] == 3
    assert "trace_id" not in event  # no active span


def test_default_logger_name_is_the_callers_module(rt: IsolatedRuntime) -> None:
    """get_logger() without a name uses the calling module's __name__."""
    obskit.get_logger().warning("x")
    assert rt.events[0]["logger"] == __name__
    assert rt.events[0]["level"] == "warning"


def test_structlog_get_logger_name_is_the_logger_field(rt: IsolatedRuntime) -> None:
    """structlog's own get_logger(name) names the line (also bound, or nested in a function);
    an explicit ``logger=`` key cannot replace it (kept as ``field_logger``); without a name,
    the logging module's __name__."""
    structlog.get_logger("payments").info("a")
    structlog.get_logger("payments").bind(order=1).warning("b")
    structlog.get_logger("payments").info("c", logger="override")
    unnamed = structlog.get_logger()

    def inner() -> None:
        unnamed.info("d")

    inner()
    structlog.get_logger().bind(x=1).info("e")
    # A user module whose name merely starts with "structlog" is not skipped.
    user_module = {"__name__": "structlog_helpers", "structlog": structlog}
    exec("structlog.get_logger().info('f')", user_module)  # noqa: S102 - a module's globals
    names = [(e["event"], e["logger"]) for e in rt.events]
    assert names == [
        ("a", "payments"),
        ("b", "payments"),
        ("c", "payments"),
        ("d", __name__),
        ("e", __name__),
        ("f", "structlog_helpers"),
    ]
    assert rt.events[1]["order"] == 1
    assert rt.events[2]["field_logger"] == "override"


def test_structlog_named_logger_in_a_fresh_process() -> None:
    """After init(), structlog.get_logger("payments") writes a JSON line with that logger name."""
    result = run_python(
        """
        import obskit, structlog
        obskit.init("svc")
        structlog.get_logger("payments").info("paid")
        structlog.get_logger().info("unnamed")
        """,
        env={"OBSKIT_LOG_FORMAT": "json"},
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["event"], e["logger"]) for e in lines] == [
        ("paid", "payments"),
        ("unnamed", "__main__"),
    ]


@pytest.mark.parametrize("sampled", [True, False])
def test_ids_of_active_span_sampled_or_not(make_rt: object, sampled: bool) -> None:
    """trace_id (32 hex) and span_id (16 hex) come from the active span, even unsampled."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

    runtime = make_rt()  # type: ignore[operator]
    tracer = TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF).get_tracer("t")
    with tracer.start_as_current_span("work") as span:
        obskit.get_logger("a").info("inside")
        logging.getLogger("lib").info("stdlib inside")
        ctx = span.get_span_context()
    assert ctx.trace_flags.sampled is sampled
    for event in runtime.events:
        assert event["trace_id"] == format(ctx.trace_id, "032x")
        assert event["span_id"] == format(ctx.span_id, "016x")
        assert len(event["trace_id"]) == 32
        assert event["trace_id"] != "0" * 32
    assert len(runtime.events) == 2
    del trace


def test_contextvars_are_merged(rt: IsolatedRuntime) -> None:
    """Keys bound with structlog.contextvars appear on structlog and stdlib lines (redacted)."""
    structlog.contextvars.bind_contextvars(request_id="r-1", api_key="k")
    try:
        obskit.get_logger("a").info("x")
        logging.getLogger("b").info("y")
    finally:
        structlog.contextvars.clear_contextvars()
    for event in rt.events:
        assert event["request_id"] == "r-1"
        assert event["api_key"] == REDACTED


def test_stdlib_record_with_extra_and_formatting(rt: IsolatedRuntime) -> None:
    """A stdlib record is rendered with its formatted message and its extra keys."""
    logging.getLogger("lib.db").warning("slow %s", "query", extra={"ms": 12})
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 1, extra={"color_message": "\x1b[36m%d\x1b[0m"}
    )
    event, uvicorn_line = rt.events
    assert "color_message" not in uvicorn_line
    assert event["event"] == "slow query"
    assert event["logger"] == "lib.db"
    assert event["level"] == "warning"
    assert event["ms"] == 12


def test_exception_is_structured(rt: IsolatedRuntime) -> None:
    """log.exception and stdlib exc_info give exception type, message and traceback."""
    try:
        raise KeyError("missing")
    except KeyError:
        obskit.get_logger("a").exception("failed")
        logging.getLogger("b").exception("failed too")
    for event in rt.events:
        assert event["level"] == "error"
        assert event["exception"]["type"] == "KeyError"
        assert event["exception"]["message"] == "'missing'"
        assert "Traceback (most recent call last)" in event["exception"]["traceback"]
        assert "exc_info" not in event


def test_redaction_in_log_events(rt: IsolatedRuntime) -> None:
    """Secret values are replaced at any depth; keys kept; auth_method/token_count untouched."""
    obskit.get_logger("a").info(
        "login",
        password="hunter2",
        headers={"Authorization": "Bearer x", "Set-Cookie": "s=1", "accept": "*/*"},
        items=[{"api_key": "k"}],
        auth_method="password",
        token_count=7,
        db_password="p",
    )
    event = rt.events[0]
    assert event["password"] == REDACTED
    assert event["headers"] == {"Authorization": REDACTED, "Set-Cookie": REDACTED, "accept": "*/*"}
    assert event["items"] == [{"api_key": REDACTED}]
    assert event["auth_method"] == "password"
    assert event["token_count"] == 7
    assert event["db_password"] == REDACTED
    logging.getLogger("lib").info("stdlib", extra={"session_id": "abc"})
    assert rt.events[1]["session_id"] == REDACTED


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True),
        ("X-Api-Key", True),
        ("access_token", True),
        ("http.request.header.authorization", True),
        ("client_secret", True),
        ("auth_method", False),
        ("token_count", False),
        ("password_hint", False),
        ("cookies_enabled", False),
        ("accessToken", False),
    ],
)
def test_redaction_matching_rule(key: str, secret: bool) -> None:
    """The documented suffix rule: the secret word must end the key."""
    cfg = resolve({}, env={})
    assert Redactor(cfg.redact_keys).is_secret(key) is secret


def test_level_filtering(make_rt: object) -> None:
    """Lines below the configured level are dropped (structlog and stdlib)."""
    runtime = make_rt(log_level="WARNING")  # type: ignore[operator]
    obskit.get_logger("a").info("no")
    logging.getLogger("b").info("no")
    obskit.get_logger("a").warning("yes")
    assert [e["event"] for e in runtime.events] == ["yes"]


def test_json_rendering_to_stdout_once(capsys: pytest.CaptureFixture[str]) -> None:
    """Rendered lines are single JSON objects on stdout, and a stdlib record is printed once."""
    cfg = resolve({"service_name": "s", "log_format": "json"}, env={})
    pipeline = LogPipeline(cfg, Redactor(cfg.redact_keys))
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, _logs.PIPELINE)
    try:
        _logs.PIPELINE = pipeline
        bridge_stdlib(pipeline)
        bridge_stdlib(pipeline)  # twice: still one handler
        logging.getLogger("uvicorn.error").info("started")
        logging.getLogger("uvicorn.access").info("plain access line")
        out = capsys.readouterr().out.splitlines()
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
        _logs.PIPELINE = saved[2]
        logging.getLogger("uvicorn.access").disabled = False
    assert len(out) == 1
    line = json.loads(out[0])
    assert line["event"] == "started"
    assert line["logger"] == "uvicorn.error"


def test_init_process_logs_no_duplicates_and_console_format() -> None:
    """In a real process: a pre-existing stdlib handler is replaced (no duplicate lines), and
    OBSKIT_LOG_FORMAT=console prints human-readable text, not JSON."""
    code = """
        import logging, sys
        logging.basicConfig(stream=sys.stdout, format="PLAIN %(message)s")
        import obskit
        obskit.init("svc")
        logging.getLogger("x").warning("once")
        obskit.get_logger("y").info("structured", k=1)
    """
    result = run_python(code)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    assert len(lines) == 2, lines
    assert all(json.loads(line)["service"] == "svc" for line in lines)
    console = run_python(code, env={"OBSKIT_LOG_FORMAT": "console"})
    assert "structured" in console.stdout
    assert not console.stdout.lstrip().startswith("{")


def test_rendered_access_line_is_valid_json(capsys: pytest.CaptureFixture[str]) -> None:
    """The pre-rendered access line is one JSON object with every field; a bound key that
    clashes with a fixed field cannot replace it: it is kept as ``field_<name>``."""
    cfg = resolve({"service_name": "s", "environment": "prod", "log_format": "json"}, env={})
    pipeline = LogPipeline(cfg, Redactor(cfg.redact_keys))
    fields = {"method": "GET", "route": "/a", "path": "/a", "status": 200, "duration_ms": 1.5}
    pipeline.access(dict(fields), "a" * 32, "b" * 16)
    structlog.contextvars.bind_contextvars(user="u", token="t")
    try:
        pipeline.access(dict(fields), None, None)
        structlog.contextvars.bind_contextvars(service="spoof")
        pipeline.access(dict(fields), None, None)
    finally:
        structlog.contextvars.clear_contextvars()
    first, second, third = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert TS.match(first["timestamp"])
    assert first["service"] == "s"
    assert first["environment"] == "prod"
    assert (first["trace_id"], first["span_id"]) == ("a" * 32, "b" * 16)
    assert first["status"] == 200
    assert (second["user"], second["token"]) == ("u", REDACTED)
    assert "trace_id" not in second
    assert (third["service"], third["field_service"]) == ("s", "spoof")
    assert third["logger"] == "obskit.access"


@pytest.mark.parametrize("ids", [("a" * 32, "b" * 16), (None, None)])
def test_access_line_fast_path_is_byte_identical_to_the_general_path(
    capsys: pytest.CaptureFixture[str], ids: tuple[str | None, str | None]
) -> None:
    """The hand-rendered access line (nothing bound, JSON) is byte for byte the line the
    general path renders from the same fields: documented field order, escaping included."""
    import orjson

    cfg = resolve({"service_name": "s", "service_version": "1.2", "environment": "prod"}, env={})
    pipeline = LogPipeline(cfg, Redactor(cfg.redact_keys))
    pipeline.console = False
    path = '/items/"q"\\é\u2028'
    pipeline.access_request("GET", "/items/{id}", path, 503, 0.0123456, None, *ids)
    pipeline.access_request("POST", "/x", "/x", 200, 2.5, "10.0.0.1", *ids)
    pipeline.capture = []
    pipeline.access_request("GET", "/items/{id}", path, 503, 0.0123456, None, *ids)
    pipeline.access_request("POST", "/x", "/x", 200, 2.5, "10.0.0.1", *ids)
    captured = pipeline.capture
    raw = capsys.readouterr().out.encode()
    lines = raw.splitlines(keepends=True)
    assert len(lines) == 2
    for line, general in zip(lines, captured, strict=True):
        parsed = json.loads(line)
        assert TS.match(parsed["timestamp"])
        general["timestamp"] = parsed["timestamp"]
        assert line == orjson.dumps(general, option=orjson.OPT_APPEND_NEWLINE)
    first = json.loads(lines[0])
    expected = ["timestamp", "level", "logger", "event", "service", "service_version"]
    expected += ["environment"] + (["trace_id", "span_id"] if ids[0] else [])
    expected += ["method", "route", "path", "status", "duration_ms", "client_addr"]
    assert list(first) == expected
    assert (first["path"], first["status"], first["duration_ms"]) == (path, 503, 12.346)
    assert first["client_addr"] is None


def test_clock_renders_each_second_and_microsecond(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cached date-time prefix follows the clock across second boundaries (both the text
    timestamp and the access line's byte prefix), with zero-padded microseconds."""
    clock = _pipeline._Clock()
    ticks = iter([1_700_000_000_000_001_000, 1_700_000_000_999_999_999, 1_700_000_001_000_000_000])
    monkeypatch.setattr(_pipeline, "_time_ns", lambda: next(ticks))
    assert clock.now() == "2023-11-14T22:13:20.000001Z"
    assert clock.line_start() == (b'{"timestamp":"2023-11-14T22:13:20.', 999_999)
    assert clock.now() == "2023-11-14T22:13:21.000000Z"


def test_access_line_template_is_byte_identical_for_durations_methods_and_clients(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The access line filled into pre-rendered JSON equals orjson's rendering of the same
    fields (``round(ms, 3)`` included) for durations at rounding ties, zero, sub-µs and days;
    for a method outside the standard set (attacker text, not cached), escaped routes and
    paths, and clients (none, IPv6); a second line of the same route reuses the template."""
    import random

    import orjson

    cfg = resolve({"service_name": "s"}, env={})
    pipeline = LogPipeline(cfg, Redactor(cfg.redact_keys))
    pipeline.console = False
    rng = random.Random(7)
    durations = [0.0, 1e-9, 4.99e-7, 5e-7, 0.0005, 0.0015, 0.0025, 0.012345, 0.1, 1.0, 2.5]
    durations += [86_400.0 * 3 + 0.0004999, 1e9 + 0.123456]
    durations += [rng.uniform(0, 0.05) for _ in range(300)] + [
        rng.uniform(0, 1e4) for _ in range(50)
    ]
    requests = [
        ("GET", "/items/{id}", "/items/1", 200, "127.0.0.1", "a" * 32, "b" * 16),
        ("GET", "/items/{id}", '/items/"2"\\é\u2028', 200, None, None, None),
        ('PO"ST\u00e9', "<unmatched>", "/x", 404, "::1", "c" * 32, "d" * 16),
        ("DELETE", '/q/{"x"}', "/q/1", 503, "10.0.0.1", None, None),
    ]
    expected: list[bytes] = []
    for i, seconds in enumerate(durations):
        method, route, path, status, client, trace_id, span_id = requests[i % len(requests)]
        pipeline.access_request(method, route, path, status, seconds, client, trace_id, span_id)
        fields: dict[str, object] = {}
        if trace_id is not None:
            fields |= {"trace_id": trace_id, "span_id": span_id}
        fields |= {
            "method": method, "route": route, "path": path, "status": status,
            "duration_ms": round(seconds * 1000.0, 3), "client_addr": client,
        }  # fmt: skip
        expected.append(orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)[1:])
    lines = capsys.readouterr().out.encode().splitlines(keepends=True)
    assert len(lines) == len(durations)
    for line, tail in zip(lines, expected, strict=True):
        assert line.endswith(b'"event":"request","service":"s",' + tail), (line, tail)
    assert set(pipeline._access_parts) == {
        ("GET", "/items/{id}", 200), ("DELETE", '/q/{"x"}', 503)
    }  # fmt: skip
