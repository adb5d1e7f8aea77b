"""Hostile input on real servers (uvicorn + FastAPI, gunicorn + Flask): secrets carried by objects,
odd query strings and path parameters, non-standard methods; and the tracing layer's own
warnings (spans dropped, attribute limits, spans after ``obskit.shutdown()``) written once, as
JSON, without the context of the request that happened to trigger them."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.runtime_e2e._secrets import SECRET
from tests.runtime_e2e._service import H11_ASYNCIO, PLAIN_UVICORN, Kind, Service, run_service
from tests.support import BlackHole, OtlpReceiver, new_traceparent, walk_values

from obskit import conventions

pytestmark = pytest.mark.e2e

_ROUTES = {"login": "/login", "echo": "/echo"}
#: On h11, which hands any method token and header to the app (httptools answers 400 to an
#: unknown method before the app sees it): the most hostile input reaches obskit.
HOSTILE_UVICORN = Kind(
    "hostile-uvicorn",
    "hostile_fastapi:app",
    "hostile-fastapi",
    "uvicorn",
    _ROUTES,
    extra=PLAIN_UVICORN,
    stack=H11_ASYNCIO,
)
HOSTILE_FLASK = Kind(
    "hostile-flask-gunicorn",
    "hostile_flask:app",
    "hostile-flask",
    "gunicorn",
    _ROUTES,
    extra=("--logger-class", "obskit.GunicornLogger"),
    env={"OBSKIT_SERVICE_NAME": "hostile-flask"},
)
#: obskit's own warnings (``obskit._runtime.tracing.setup``), as a user reads them in the output.
DROPPED = "spans dropped: OTLP endpoint unreachable or slow"
AFTER_SHUTDOWN = (
    "spans dropped: obskit.shutdown() was called; spans of later requests are not exported"
)
ATTRIBUTE_LIMIT = (
    "span attributes dropped: a span attribute count limit was reached "
    "(OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT / OTEL_ATTRIBUTE_COUNT_LIMIT)"
)
#: Keys a line written outside any request carries none of.
_REQUEST_KEYS = ("trace_id", "span_id", "request_tag")


@pytest.fixture(scope="module", params=[HOSTILE_UVICORN, HOSTILE_FLASK], ids=lambda k: k.id)
def hostile(
    request: pytest.FixtureRequest,
    session_receiver: OtlpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    """The hostile-input app served by uvicorn (FastAPI) and by gunicorn (Flask)."""
    kind: Kind = request.param
    with run_service(
        kind, otlp_endpoint=session_receiver.endpoint, tmp_dir=tmp_path_factory.mktemp(kind.id)
    ) as svc:
        yield svc


def _raw_request(
    service: Service, method: str, target: str, headers: dict[str, str], body: bytes = b""
) -> int:
    """Send ``method target`` exactly as written (no client-side re-encoding); the status."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    try:
        conn.request(method, target, body=body or None, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _secrets_in(value: Any) -> list[str]:
    return [v for v in walk_values(value) if SECRET in v]


def test_objects_passed_to_log_calls_are_redacted(
    hostile: Service, session_receiver: OtlpReceiver
) -> None:
    """A pydantic request body, a dataclass, an attrs instance, plain objects (one referring to
    itself, one whose attribute access raises) logged through structlog and the stdlib bridge:
    the request succeeds, each object is a dict of its fields with ``__type__``, secret fields
    are ``[REDACTED]``, no secret is anywhere in the output or in the span's events."""
    parent = new_traceparent()
    body = {
        "user": "alice",
        "password": f"{SECRET}-password",
        "api_key": f"{SECRET}-api-key",
        "profile": {"theme": "dark", "token": f"{SECRET}-profile-token"},
    }
    with hostile.client() as client:
        response = client.post("/login", json=body, headers={"traceparent": parent.header})
    assert response.status_code == 200, response.text
    hostile.access_line(path="/login", trace_id=parent.trace_id)
    records = [r for r in hostile.records() if r.get("trace_id") == parent.trace_id]
    assert not [r for r in records if _secrets_in(r)], f"secrets in log lines: {records}"
    assert SECRET not in "".join(line.text for line in hostile.proc.lines)

    [line] = [r for r in records if r.get("event") == "login objects"]
    assert line["body"] == {
        "__type__": "LoginBody",
        "user": "alice",
        "password": "[REDACTED]",
        "api_key": "[REDACTED]",
        "profile": {"theme": "dark", "token": "[REDACTED]"},
    }
    creds = {"__type__": "Credentials", "user": "alice", "token": "[REDACTED]"}
    account = {"__type__": "Account", "user": "alice", "secret_key": "[REDACTED]"}
    assert line["creds"] == creds
    assert line["account"] == account
    assert line["state"] == {
        "__type__": "Session",
        "user": "alice",
        "password": "[REDACTED]",
        "owner": "[cycle]",
    }
    assert line["hostile"] == {"__type__": "Hostile", "token": "[REDACTED]", "kind": "hostile"}
    assert line["broken"] == {
        "__type__": "Broken",
        "user": "alice",
        "token_hint": "[unreadable: RuntimeError]",
    }
    assert line["nested"] == {
        "list": [creds, [account]],
        "pairs": [["authorization", "[REDACTED]"]],
    }
    [stdlib_line] = [r for r in records if r.get("event") == "login objects stdlib"]
    assert stdlib_line["creds"] == creds
    assert stdlib_line["body"]["password"] == stdlib_line["state"]["password"] == "[REDACTED]"

    [span] = session_receiver.wait_for_trace(parent.trace_id, timeout=15)
    [(_name, attributes)] = [e for e in span.events if e[0] == "login"]
    assert attributes == {"user": "alice", "password": "[REDACTED]", "app.api_key": "[REDACTED]"}
    assert not _secrets_in(span.attributes)


def test_query_string_spellings_are_redacted(
    hostile: Service, session_receiver: OtlpReceiver
) -> None:
    """``api%5Fkey``, ``user[password]``, ``;``-separated and mixed-case parameter names are
    decoded and matched like plain keys in the span's ``url.query``; other parameters stay."""
    parent = new_traceparent()
    query = (
        f"api%5Fkey={SECRET}-1&user[password]={SECRET}-2&page=2;password={SECRET}-3"
        f"&PassWord={SECRET}-4&user%5Btoken%5D%5B%5D={SECRET}-5&x-Api-Key={SECRET}-6"
    )
    status = _raw_request(hostile, "GET", f"/echo?{query}", {"traceparent": parent.header})
    assert status == 200
    access = hostile.access_line(trace_id=parent.trace_id)
    assert access["path"] == "/echo"
    assert not _secrets_in(access)
    [span] = session_receiver.wait_for_trace(parent.trace_id, timeout=15)
    assert span.attributes["url.query"] == (
        "api%5Fkey=[REDACTED]&user[password]=[REDACTED]&page=2;password=[REDACTED]"
        "&PassWord=[REDACTED]&user%5Btoken%5D%5B%5D=[REDACTED]&x-Api-Key=[REDACTED]"
    )


def test_path_parameters_are_redacted_in_access_line_and_span(
    hostile: Service, session_receiver: OtlpReceiver
) -> None:
    """A ``;password=`` parameter in the path (and a ``%3F``-encoded query the server decodes
    into the path) reaches the access line's ``path`` and the span's ``url.path`` redacted."""
    for target, expected in (
        (f"/echo;password={SECRET}-7;v=1", "/echo;password=[REDACTED];v=1"),
        (f"/echo%3Ftoken={SECRET}-8", "/echo?token=[REDACTED]"),
    ):
        parent = new_traceparent()
        assert _raw_request(hostile, "GET", target, {"traceparent": parent.header}) == 404
        access = hostile.access_line(trace_id=parent.trace_id)
        assert access["path"] == expected
        [span] = session_receiver.wait_for_trace(parent.trace_id, timeout=15)
        assert span.attributes["url.path"] == expected
        assert not _secrets_in(span.attributes)


def test_non_standard_method_is_not_a_span_name(
    hostile: Service, session_receiver: OtlpReceiver
) -> None:
    """``FOO /echo`` (routed) and ``BREW /nowhere`` (unmatched): span name ``HTTP /echo`` /
    ``HTTP``, ``http.request.method`` = ``_OTHER`` with the original kept in
    ``http.request.method_original``, the metric's method label ``_OTHER`` too."""
    for method, target, status, name in (
        ("FOO", "/echo", 200, "HTTP /echo"),
        ("BREW", "/nowhere", None, "HTTP"),
    ):
        parent = new_traceparent()
        got = _raw_request(hostile, method, target, {"traceparent": parent.header})
        assert status is None or got == status
        [span] = session_receiver.wait_for_trace(parent.trace_id, timeout=15)
        assert span.name == name
        assert span.attributes["http.request.method"] == conventions.METHOD_OTHER
        assert span.attributes["http.request.method_original"] == method
        access = hostile.access_line(trace_id=parent.trace_id)
        assert access["method"] == method  # the access line keeps the method as received
    scrape = hostile.wait_scrape(
        lambda s: bool(
            s.find(conventions.HTTP_DURATION_COUNT, http_request_method=conventions.METHOD_OTHER)
        ),
        what="an _OTHER request counted",
    )
    methods = {
        s.labels[conventions.LABEL_METHOD] for s in scrape.find(conventions.HTTP_DURATION_COUNT)
    }
    assert not methods & {"FOO", "BREW"}


# -- the tracing layer's own warnings ----------------------------------------------------------


def _warnings(service: Service, event: str) -> list[dict[str, Any]]:
    return [r for r in service.records() if r.get("event") == event]


def test_spans_dropped_warning_carries_no_request_context(tmp_path: Path) -> None:
    """A hung collector and a tiny queue: spans are dropped on request threads, inside requests
    with bound contextvars. The one warning has no trace/span id and none of the bound keys."""
    with (
        BlackHole() as hole,
        run_service(
            HOSTILE_UVICORN,
            otlp_endpoint=hole.endpoint,
            tmp_dir=tmp_path,
            extra_env={
                "OTEL_BSP_MAX_QUEUE_SIZE": "2",
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "1",
                "OTEL_BSP_SCHEDULE_DELAY": "10",
                # Long in seconds (the SDK) and in milliseconds (the specification).
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "60000",
            },
        ) as svc,
        svc.client() as client,
    ):
        for n in range(30):
            assert client.get(f"/bound/{n}").status_code == 200
        [warning] = svc.wait_records(lambda r: r.get("event") == DROPPED, what="drop warning")
        assert warning["level"] == "warning"
        assert warning["reason"] == "queue full"
        assert not [k for k in _REQUEST_KEYS if k in warning], warning
        assert len(_warnings(svc, DROPPED)) == 1


def test_low_attribute_count_limit_keeps_server_attributes(
    tmp_path: Path, otlp_receiver: OtlpReceiver
) -> None:
    """``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT=3`` and a handler setting 7 attributes, 5 requests: every
    span keeps method, path, scheme, route and status; the handler's 3 newest attributes are kept;
    one JSON warning names the limit (not one SDK line per request). With a value-length limit
    too, values are cut as the specification says and the SDK's truncation warning (every
    request: the user agent is longer) comes out once."""
    with run_service(
        HOSTILE_UVICORN,
        otlp_endpoint=otlp_receiver.endpoint,
        tmp_dir=tmp_path,
        extra_env={
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "3",
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "12",
        },
    ) as svc:
        parents = [new_traceparent() for _ in range(5)]
        svc_user_agent = f"python-httpx/{httpx.__version__}"
        with svc.client() as client:
            for parent in parents:
                assert client.get("/many", headers={"traceparent": parent.header}).is_success
        for parent in parents:
            [span] = otlp_receiver.wait_for_trace(parent.trace_id, timeout=15)
            attrs = span.attributes
            assert span.name == "GET /many"
            assert attrs["http.request.method"] == "GET"
            assert attrs["url.path"] == "/many"
            assert attrs["url.scheme"] == "http"
            assert attrs["user_agent.original"] == svc_user_agent[:12]
            assert attrs["http.route"] == "/many"
            assert attrs["http.response.status_code"] == 200
            assert sorted(k for k in attrs if k.startswith("app.")) == [
                "app.attr3",
                "app.attr4",
                "app.attr5",
            ]
        [warning] = svc.wait_records(lambda r: r.get("event") == ATTRIBUTE_LIMIT, what="limit")
        assert warning["OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"] == "3"
        assert not [k for k in _REQUEST_KEYS if k in warning], warning
        assert len(_warnings(svc, ATTRIBUTE_LIMIT)) == 1
        assert not [line.text for line in svc.proc.lines if "Attributes dict is full" in line.text]
        truncating = [r for r in svc.records() if "exceeds max length" in str(r.get("event"))]
        assert len(truncating) == 1, truncating
        assert not [
            line.text
            for line in svc.proc.lines
            if "exceeds max length" in line.text and not line.text.startswith("{")
        ]


def test_requests_after_shutdown_warn_once(tmp_path: Path, otlp_receiver: OtlpReceiver) -> None:
    """After ``obskit.shutdown()`` the service still answers; its spans cannot be exported any
    more, and one JSON warning says so (not silence, not one line per request)."""
    with (
        run_service(HOSTILE_UVICORN, otlp_endpoint=otlp_receiver.endpoint, tmp_dir=tmp_path) as svc,
        svc.client() as client,
    ):
        assert client.post("/stop-obskit").status_code == 200
        for n in range(5):
            assert client.get(f"/bound/{n}").status_code == 200
        [warning] = svc.wait_records(lambda r: r.get("event") == AFTER_SHUTDOWN, what="warning")
        assert warning["level"] == "warning"
        assert not [k for k in _REQUEST_KEYS if k in warning], warning
        svc.wait_records(lambda r: r.get("path") == "/bound/4", what="last access line")
        assert len(_warnings(svc, AFTER_SHUTDOWN)) == 1


def test_user_patterns_reach_free_text(tmp_path: Path, otlp_receiver: OtlpReceiver) -> None:
    """``OBSKIT_REDACT_PATTERNS`` (the user's hook): a secret recognisable by its shape is
    redacted where no key names it — the message, a harmless key's value, the exception's message
    and traceback, the span's ``url.query`` — and nowhere in the output."""
    key = "sk_live_" + SECRET + "Abc123"
    with run_service(
        HOSTILE_UVICORN,
        otlp_endpoint=otlp_receiver.endpoint,
        tmp_dir=tmp_path,
        extra_env={"OBSKIT_REDACT_PATTERNS": r"sk_live_\w+ ghp_\w{36}"},
    ) as svc:
        parent = new_traceparent()
        with svc.client() as client:
            response = client.get(
                "/free-text", params={"key": key}, headers={"traceparent": parent.header}
            )
        assert response.status_code == 200
        svc.access_line(trace_id=parent.trace_id)
        [message] = svc.wait_records(lambda r: r.get("event") == "charging with [REDACTED]")
        assert message["note"] == "the key was [REDACTED]"
        [failure] = svc.wait_records(lambda r: r.get("event") == "charge failed")
        assert failure["exception"]["message"] == "card rejected for [REDACTED]"
        assert "card rejected for [REDACTED]" in failure["exception"]["traceback"]
        [span] = otlp_receiver.wait_for_trace(parent.trace_id, timeout=15)
        assert span.attributes["url.query"] == "key=[REDACTED]"
        assert not [line.text for line in svc.proc.lines if SECRET in line.text]
