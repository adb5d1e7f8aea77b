"""Inside real request handlers (FastAPI on uvicorn, Flask on gunicorn), a log call with a value
that cannot be encoded as it is leaves the request unaffected and writes exactly one JSON line."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from tests.support import free_port, gunicorn_command, uvicorn_command
from tests.support.fixtures import Spawn

from obskit._render import CONVERTED_FIELD, PIPE_LINE_MAX_BYTES, TRUNCATED_FIELD

pytestmark = pytest.mark.e2e

APPS = Path(__file__).resolve().parent / "apps"
CASES = ("int70", "tuple_keys", "cycle_dict", "cycle_list", "no_json", "surrogate", "one_mb")
SERVERS = {
    "uvicorn-fastapi": lambda port: uvicorn_command("hostile_fastapi:app", port),
    "gunicorn-flask": lambda port: gunicorn_command("hostile_flask:app", port),
}


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_unencodable_values_in_a_handler_never_fail_the_request(server: str, spawn: Spawn) -> None:
    """Each hostile value through structlog and through ``extra``: HTTP 200, one JSON line per
    call (its value converted and named in ``obskit_converted``, or the 1 MB value cut and
    named in ``obskit_truncated``), every stdout line JSON, nothing on stderr about logging."""
    port = free_port()
    env = {
        "PYTHONPATH": str(APPS),
        "OBSKIT_METRICS_PORT": "0",
        "OTEL_TRACES_EXPORTER": "none",
        "OBSKIT_LOG_FORMAT": "json",
    }
    proc = spawn(SERVERS[server](port), env=env, port=port, name=server)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for path in ("structlog", "stdlib"):
            for case in CASES:
                response = client.get(f"/{path}/{case}")
                assert response.status_code == 200, (path, case, response.text[:300])
                assert response.json() == {"ok": case}
    proc.wait_for_line(lambda t: '"path":"/stdlib/one_mb"' in t, timeout=20)
    proc.stop()
    stdout = proc.texts("stdout")
    events = [json.loads(text) for text in stdout]  # every line is one JSON object
    assert all(isinstance(e, dict) for e in events)
    for path, logger in (("structlog", "app.structlog"), ("stdlib", "app.stdlib")):
        for case in CASES:
            lines = [e for e in events if e["event"] == f"hostile {case}"]
            mine = [e for e in lines if e["logger"] == logger]
            assert len(mine) == 1, (path, case, mine)
            (event,) = mine
            assert event["service"] == "hostile"
            assert "trace_id" in event
            if case == "one_mb":
                assert event[TRUNCATED_FIELD]["fields"] == ["v"]
            else:
                assert event[CONVERTED_FIELD] == ["v"], (path, case, event)
    if server == "gunicorn-flask":  # a gunicorn worker: the multi-worker cap
        assert max(len(text.encode()) + 1 for text in stdout) <= PIPE_LINE_MAX_BYTES
    stderr = "\n".join(proc.texts("stderr"))
    assert "Logging error" not in stderr
    assert "Traceback" not in stderr
