"""Fixtures: an isolated runtime whose lines are really rendered, into an in-memory stdout."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from obskit.testing import IsolatedRuntime

# `tests.support` is imported by its full name; make the repository root importable.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


class Rendered:
    """The JSON lines written to stdout by an isolated runtime whose events are rendered."""

    def __init__(self, runtime: IsolatedRuntime, capture: pytest.CaptureFixture[bytes]) -> None:
        self.runtime = runtime
        self._capture = capture
        #: What was written to stderr so far.
        self.stderr = b""

    def new_lines(self) -> list[bytes]:
        """The raw lines (newline included) written to stdout since the last call."""
        sys.stdout.flush()
        out, err = self._capture.readouterr()
        self.stderr += err
        return out.splitlines(keepends=True)

    def one(self) -> dict[str, Any]:
        """The single line written since the last call, parsed; fails unless exactly one
        complete JSON object was written."""
        lines = self.new_lines()
        assert len(lines) == 1, lines
        assert lines[0].endswith(b"\n")
        event = json.loads(lines[0])
        assert isinstance(event, dict)
        return event


@pytest.fixture
def rendered(capsysbinary: pytest.CaptureFixture[bytes]) -> Iterator[Rendered]:
    """An isolated runtime (service ``test``) that renders its lines as JSON to pytest's
    in-memory stdout (a buffer without a file descriptor, as under any capturing runner)."""
    with IsolatedRuntime() as runtime:
        runtime.state.pipeline.capture = None
        yield Rendered(runtime, capsysbinary)


from tests.support.fixtures import spawn  # noqa: E402, F401


def run_python(code: str, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (``init()`` and logging set-up are process-global),
    stdout a pipe (so JSON lines), no metrics port, no exporter; returns the finished process."""
    from tests.support import clean_env

    full_env = clean_env({"OBSKIT_METRICS_PORT": "0", "OTEL_TRACES_EXPORTER": "none"})
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        check=False,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` parsed; fails on any line that is not one JSON object."""
    events = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(e, dict) for e in events), text
    return events
