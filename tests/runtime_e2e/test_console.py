"""On a terminal, logs are human-readable console lines carrying the same fields; JSON when the
format is forced.  The server runs with a pseudo-terminal as stdout and stderr."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from tests.runtime_e2e._service import UVICORN, run_service
from tests.support import OtlpReceiver, new_traceparent

pytestmark = pytest.mark.e2e

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _plain(text: str) -> str:
    """The line without terminal colour codes."""
    return _ANSI.sub("", text)


def _is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


@pytest.mark.parametrize(("log_format", "expect_json"), [(None, False), ("json", True)])
def test_terminal_gets_console_lines_unless_json_is_forced(
    log_format: str | None, expect_json: bool, otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """With a terminal as stdout and ``OBSKIT_LOG_FORMAT`` unset (``auto``), the app's structlog
    line and the access line are console lines, not JSON, with the event, the key=value fields
    and the trace id; with ``OBSKIT_LOG_FORMAT=json`` they are JSON even on a terminal."""
    env = {"OBSKIT_LOG_FORMAT": log_format} if log_format else {}
    n = random.randrange(10**8, 10**9)
    parent = new_traceparent()
    with run_service(
        UVICORN, otlp_endpoint=otlp_receiver.endpoint, tmp_dir=tmp_path, extra_env=env, tty=True
    ) as service:
        with service.client() as client:
            response = client.get(f"/orders/{n}", headers={"traceparent": parent.header})
            assert response.status_code == 200
        app_line = service.proc.wait_for_line(
            lambda t: "order.structlog" in t and str(n) in _plain(t)
        )
        access_line = service.proc.wait_for_line(
            lambda t: f"/orders/{n}" in _plain(t) and "order." not in t
        )
        lines = service.proc.texts()
    assert {ln.stream for ln in service.proc.lines} == {"tty"}
    for line in (app_line, access_line):
        assert _is_json(line) is expect_json, line
        assert parent.trace_id in line
    if not expect_json:
        assert f"order_id={n}" in _plain(app_line)
        assert not any(_is_json(t) for t in lines if t.strip()), "JSON on a terminal"
