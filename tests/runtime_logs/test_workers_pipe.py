"""Several workers, one stdout pipe, a slow reader: every line the reader gets is one JSON object.

The reproduction of issue 8: ``gunicorn -w 2`` whose workers each write 400 lines of 8 KB or
16 KB (every tenth an exception with a traceback longer than that) into the stdout pipe they
share, while the reader drains the pipe slowly, so the pipe is full and writers block.  A write
longer than ``PIPE_BUF`` is not atomic then: the kernel moves it in pieces, and a sibling's write
lands between them.  obskit caps each line at 4096 bytes in multi-worker mode and writes it in
one ``os.write``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.support import clean_env, free_port, gunicorn_command

from obskit._render import PIPE_LINE_MAX_BYTES, TRUNCATED_FIELD

pytestmark = pytest.mark.e2e

APPS = Path(__file__).resolve().parent / "apps"
LINES = 400


def _slow_read(proc: subprocess.Popen[bytes], want_done: int, timeout: float) -> bytes:
    """Read stdout 4 KB at a time with a pause after each read, until ``want_done`` workers
    said "burst done" or ``timeout``; returns everything read."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    data = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
        if data.count(b'"event":"burst done"') >= want_done:
            break
        time.sleep(0.001)
    return bytes(data)


@pytest.mark.parametrize("size", [8192, 16384])
def test_two_workers_long_lines_slow_reader_every_line_is_json(size: int) -> None:
    """gunicorn -w 2, 400 lines of ``size`` bytes per worker, slow pipe reader: zero lines that
    are not one JSON object, each at most 4096 bytes, every line of both workers present, long
    lines and long tracebacks cut and marked."""
    port = free_port()
    argv = gunicorn_command("burst_app:app", port, "--timeout", "300", workers=2)
    env = clean_env(
        {"PYTHONPATH": str(APPS), "BURST_SIZE": str(size), "BURST_LINES": str(LINES)}
        | {"OBSKIT_METRICS_PORT": "0", "OTEL_TRACES_EXPORTER": "none"}
    )
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    stderr: list[bytes] = []
    drain = threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    drain.start()
    try:
        data = _slow_read(proc, want_done=2, timeout=240)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        drain.join(timeout=10)
    lines = data.split(b"\n")[:-1]  # the part after the last newline may be cut by the kill
    bad = []
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            bad.append(line[:120])
            continue
        if not isinstance(event, dict):
            bad.append(line[:120])
            continue
        events.append(event)
    assert bad == [], f"{len(bad)} of {len(lines)} lines are not JSON, e.g. {bad[:3]}"
    assert max(len(line) + 1 for line in lines) <= PIPE_LINE_MAX_BYTES
    burst = [e for e in events if e.get("logger") == "burst"]
    pids = {e["pid"] for e in burst}
    assert len(pids) == 2, (pids, b"".join(stderr)[-2000:])
    for pid in pids:
        mine = [e for e in burst if e["pid"] == pid and e["event"] != "burst done"]
        assert sorted(e["i"] for e in mine) == list(range(LINES))
        for event in mine:
            assert event["service"] == "burst"
            assert event[TRUNCATED_FIELD]["bytes"] > size
            if event["event"] == "burst failure":
                assert event[TRUNCATED_FIELD]["fields"] == ["exception"]
                assert event["exception"]["type"] == "RuntimeError"
                traceback = event["exception"]["traceback"]
                assert traceback.startswith("Traceback (most recent call last):\n…")
                assert traceback.rstrip().endswith("x" * 64)
            else:
                assert event[TRUNCATED_FIELD]["fields"] == ["pad"]


def test_non_blocking_stdout_pipe_loses_no_line_and_cuts_none() -> None:
    """A stdout pipe made non-blocking (as some process managers leave it) and full: a 30 KB
    line that the kernel accepts only in part is finished once the reader makes room, so every
    line arrives whole, one JSON object each."""
    code = (
        "import os, obskit\n"
        "os.set_blocking(1, False)\n"
        "obskit.init('nb')\n"
        "log = obskit.get_logger('nb')\n"
        "for i in range(60):\n"
        "    log.info('big', i=i, pad='q' * 30000)\n"
    )
    env = clean_env({"OBSKIT_METRICS_PORT": "0", "OTEL_TRACES_EXPORTER": "none"})
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    time.sleep(0.5)  # let the pipe fill up
    data = bytearray()
    while chunk := os.read(proc.stdout.fileno(), 8192):
        data += chunk
        time.sleep(0.0005)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in data.splitlines()]
    assert [e["i"] for e in events] == list(range(60))
    assert all(len(e["pad"]) == 30000 for e in events)
