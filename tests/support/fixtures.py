"""pytest fixtures over the harness; import them into a ``conftest.py`` to use them::

from tests.support.fixtures import otlp_receiver, spawn  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import pytest
from tests.support._otlp import OtlpReceiver
from tests.support._process import ServerProcess

__all__ = ["Spawn", "otlp_receiver", "spawn"]

#: ``spawn(argv, env=..., port=..., name=...)`` → a started :class:`ServerProcess`.
Spawn = Callable[..., ServerProcess]


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A started OTLP/HTTP trace receiver on a free loopback port, stopped after the test."""
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Factory starting servers that are always stopped (whole process group) after the test.

    ``spawn(argv, env=None, port=None, name=None, timeout=20)`` starts ``argv`` and, when
    ``port`` is given, waits until it answers (failing with the server's output if it exits).
    """
    started: list[ServerProcess] = []

    def _spawn(
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        name: str | None = None,
        timeout: float = 20.0,
    ) -> ServerProcess:
        proc = ServerProcess(argv, env=env, name=name)
        started.append(proc)
        proc.start()
        if port is not None:
            proc.wait_for_port(port, timeout=timeout)
        return proc

    yield _spawn
    for proc in reversed(started):
        proc.stop()
