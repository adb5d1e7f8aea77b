"""Real servers: obskit takes the start-up heap out of the full collections' reach.

A FastAPI app under gunicorn with two uvicorn workers (the soak benchmark's set-up) and under
plain uvicorn.  ``init()`` freezes what it built; the ASGI lifespan startup freezes the
application's own start-up objects, in every worker, before it serves; requests are never
frozen; ``OBSKIT_GC_FREEZE=false`` leaves the heap alone (docs/runtime.md, "Garbage collection").
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support._net import free_port
from tests.support._process import ServerProcess, clean_env, gunicorn_command, uvicorn_command

pytestmark = pytest.mark.e2e

_APP = """
import gc, os
import obskit
obskit.init("gc-freeze")
from fastapi import FastAPI

app = FastAPI()
#: Made after init(), while the app is imported: frozen only by the lifespan startup.
STARTUP_OBJECT = {"routes": [object() for _ in range(10)]}


@app.get("/gc")
def heap() -> dict:
    per_request = [object()]  # made by a request: must never be frozen
    tracked = {id(o) for o in gc.get_objects()}
    return {
        "pid": os.getpid(),
        "frozen": gc.get_freeze_count(),
        "startup_object_collectable": id(STARTUP_OBJECT) in tracked,
        "request_object_collectable": id(per_request) in tracked,
    }
"""


def _serve(tmp_path: Path, command: list[str], env: dict[str, str], port: int) -> ServerProcess:
    (tmp_path / "gc_app.py").write_text(textwrap.dedent(_APP))
    proc = ServerProcess(command, env=clean_env({"OBSKIT_METRICS_PORT": "0", **env}), name="gc")
    proc.start()
    proc.wait_for_port(port, timeout=30)
    return proc


def _answers(port: int, workers: int) -> dict[int, dict[str, Any]]:
    """``/gc`` of every worker, on fresh connections until each has answered."""
    seen: dict[int, dict[str, Any]] = {}
    for _ in range(400):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            try:
                body = client.get("/gc").json()
            except httpx.TransportError:
                continue  # gunicorn binds before its workers have imported the app
        seen.setdefault(body["pid"], body)
        if len(seen) == workers:
            break
    assert len(seen) == workers, f"{len(seen)} of {workers} workers answered"
    return seen


@pytest.mark.parametrize("server", ["gunicorn-2-uvicorn-workers", "uvicorn"])
def test_every_worker_serves_with_its_start_up_heap_frozen(server: str, tmp_path: Path) -> None:
    """In each worker the objects of init() and of the app's import are frozen (not traversed
    by any collection) while an object a request makes is not."""
    port = free_port()
    workers = 2 if server.startswith("gunicorn") else 1
    if workers == 2:
        command = gunicorn_command(
            "gc_app:app", port, "--chdir", str(tmp_path), workers=2,
            worker_class="uvicorn.workers.UvicornWorker",
        )  # fmt: skip
    else:
        command = uvicorn_command("gc_app:app", port, "--app-dir", str(tmp_path))
    proc = _serve(tmp_path, command, {"OTEL_TRACES_EXPORTER": "none"}, port)
    try:
        answers = _answers(port, workers)
    finally:
        proc.stop()
    for pid, body in answers.items():
        assert body["frozen"] > 20_000, (pid, body)
        assert body["startup_object_collectable"] is False, (pid, body)
        assert body["request_object_collectable"] is True, (pid, body)


def test_switched_off_nothing_is_frozen(tmp_path: Path) -> None:
    """``OBSKIT_GC_FREEZE=false``: no object is frozen, the start-up object stays collectable."""
    port = free_port()
    command = uvicorn_command("gc_app:app", port, "--app-dir", str(tmp_path))
    proc = _serve(
        tmp_path, command, {"OTEL_TRACES_EXPORTER": "none", "OBSKIT_GC_FREEZE": "false"}, port
    )
    try:
        [body] = _answers(port, 1).values()
    finally:
        proc.stop()
    assert body["frozen"] == 0
    assert body["startup_object_collectable"] is True
