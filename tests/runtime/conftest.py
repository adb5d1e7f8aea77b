"""Fixtures for the in-process runtime tests: an isolated obskit runtime per test."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from obskit.testing import IsolatedRuntime

TRACEPARENT_SAMPLED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACEPARENT_UNSAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"


@pytest.fixture
def rt() -> Iterator[IsolatedRuntime]:
    """An isolated runtime (in-memory spans, captured events, own registry)."""
    with IsolatedRuntime() as runtime:
        yield runtime


@pytest.fixture
def make_rt() -> Iterator[Callable[..., IsolatedRuntime]]:
    """Factory for an isolated runtime with options; entered and restored by the fixture."""
    stack: list[IsolatedRuntime] = []

    def factory(**options: Any) -> IsolatedRuntime:
        runtime = IsolatedRuntime(**options)
        runtime.__enter__()
        stack.append(runtime)
        return runtime

    yield factory
    for runtime in reversed(stack):
        runtime.__exit__(None, None, None)


def run_python(code: str, *, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    """Run ``code`` in a fresh interpreter (``init()`` is process-global); returns the result."""
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OBSKIT_", "OTEL_", "PROMETHEUS"))
    }
    full_env.update({"OBSKIT_METRICS_PORT": "0", "OTEL_TRACES_EXPORTER": "none"})
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
