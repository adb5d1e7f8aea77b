"""A whole service run, start to exit, on every server kind: every output line is JSON, no secret
sent in headers, bodies, query strings or log calls reaches the output, and stopping the server
(SIGTERM, to the main process as ``docker stop`` sends it) flushes the spans still queued.

One run per kind (a module-scoped fixture) feeds several tests.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tests.runtime_e2e._secrets import SECRET, post_login
from tests.runtime_e2e._service import KINDS, Kind, run_service
from tests.support import (
    OtlpReceiver,
    ReceivedSpan,
    assert_all_json,
    new_traceparent,
    parse_json_lines,
    request_until_close,
)

pytestmark = pytest.mark.e2e


@dataclass
class Run:
    """What one service run produced."""

    kind: Kind
    lines: list[str]
    returncode: int | None
    spans: list[ReceivedSpan]
    order_id: int
    traces: dict[str, str]  # request name -> trace id sent in its traceparent


@pytest.fixture(scope="module", params=KINDS, ids=[k.id for k in KINDS])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Start a service with a long batch delay (spans stay queued), send ordinary, failing,
    unmatched and secret-laden requests, stop it with SIGTERM, and collect everything."""
    kind: Kind = request.param
    order_id = random.randrange(10**8, 10**9)
    traces = {name: new_traceparent() for name in ("orders", "boom", "unmatched", "login")}
    with OtlpReceiver() as receiver:
        with run_service(
            kind,
            otlp_endpoint=receiver.endpoint,
            tmp_dir=tmp_path_factory.mktemp(f"life-{kind.id}"),
            # Nothing is exported before shutdown: the flush at exit must send it all.
            extra_env={"OTEL_BSP_SCHEDULE_DELAY": "60000"},
        ) as service:
            with service.client() as client:
                tp = {name: {"traceparent": t.header} for name, t in traces.items()}
                assert client.get(f"/orders/{order_id}", headers=tp["orders"]).status_code == 200
                # uvicorn closes a connection whose app raised: use a connection of its own.
                status, _ = request_until_close(service.port, "/boom", headers=tp["boom"])
                assert status == 500
                assert client.get("/no/such/page", headers=tp["unmatched"]).status_code == 404
                assert post_login(client, tp["login"]).status_code == 200
            service.wait_records(
                lambda r: r.get("logger") == "obskit.access" and r.get("path") == "/login"
            )
            proc = service.proc
        # run_service has stopped the server (SIGTERM, bounded wait) when the block ends.
        # The exit flush happened before the process ended; allow the receiver's threads a moment.
        for t in traces.values():
            try:
                receiver.wait_for_trace(t.trace_id, timeout=3)
            except TimeoutError:
                break  # asserted by test_spans_queued_at_shutdown_are_flushed
        yield Run(
            kind=kind,
            lines=[ln.text for ln in proc.lines],
            returncode=proc.returncode,
            spans=receiver.spans,
            order_id=order_id,
            traces={name: t.trace_id for name, t in traces.items()},
        )


def _records(run: Run) -> list[dict[str, Any]]:
    records, _ = parse_json_lines(run.lines)
    return records


def test_every_output_line_is_json_from_start_to_exit(run: Run) -> None:
    """Every stdout/stderr line of the run — server start-up, requests, errors, shutdown — is
    one JSON object; the server's own lines are among them (rendered, not swallowed)."""
    records = assert_all_json(run.lines, what=f"{run.kind.id} stdout+stderr")
    server_loggers = {str(r.get("logger")) for r in records}
    assert any(name.split(".")[0] in ("uvicorn", "gunicorn") for name in server_loggers), (
        f"no line from the server's own loggers: {sorted(server_loggers)}"
    )
    assert all(r.get("service") == run.kind.service_name for r in records), {
        r.get("service") for r in records
    }


def test_json_lines_carry_no_terminal_colour_codes(run: Run) -> None:
    """JSON lines are for machines: no ANSI escape sequence in any value (uvicorn passes a
    coloured copy of some messages as the ``color_message`` extra)."""
    coloured = [line for line in run.lines if "\\u001b[" in line or "\x1b[" in line]
    assert not coloured, "terminal colour codes in JSON lines:\n" + "\n".join(coloured[:5])


def test_one_access_line_per_request_and_nothing_printed_twice(run: Run) -> None:
    """Four requests give exactly four ``obskit.access`` lines (the plain server access logs are
    replaced, the probe path is excluded), and each application log call appears once."""
    records = _records(run)
    access = [r for r in records if r.get("logger") == "obskit.access"]
    assert sorted(r["path"] for r in access) == sorted(
        ["/boom", "/login", "/no/such/page", f"/orders/{run.order_id}"]
    ), access
    assert not [r for r in records if str(r.get("logger")).endswith(".access") and r not in access]
    structlog_lines = [r for r in records if r.get("event") == "order.structlog"]
    stdlib_lines = [r for r in records if r.get("event") == f"order.stdlib {run.order_id}"]
    assert (len(structlog_lines), len(stdlib_lines)) == (1, 1)


def test_no_secret_reaches_the_output(run: Run) -> None:
    """No secret sent in headers, the JSON body or the query string, or logged by the app,
    appears in any output line of the whole run (start-up and shutdown included)."""
    leaked = [line for line in run.lines if SECRET in line]
    assert not leaked, "secrets leaked into the output:\n" + "\n".join(leaked[:10])
    records = _records(run)
    assert [r["password"] for r in records if r.get("event") == "login attempt"] == ["[REDACTED]"]


def test_spans_queued_at_shutdown_are_flushed(run: Run) -> None:
    """With a 60 s batch delay nothing is exported while serving; SIGTERM makes the server
    exit gracefully (not killed by the harness) and every request's span is exported on the way
    out."""
    # uvicorn >= 0.29 re-raises the signal it caught once it has shut down, so its graceful exit
    # status is -SIGTERM; gunicorn's master exits 0.  -SIGKILL would mean the harness had to kill.
    assert run.returncode in (0, -signal.SIGTERM), f"exit status {run.returncode}"
    received = {s.trace_id for s in run.spans}
    missing = {name for name, trace_id in run.traces.items() if trace_id not in received}
    assert not missing, f"spans not flushed at exit: {sorted(missing)}"
