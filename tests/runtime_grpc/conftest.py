"""Fixtures for the OTLP/gRPC export tests: a gRPC trace receiver and an HTTP one."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# `tests.support` is imported by its full name; make the repository root importable even when
# pytest is run as `pytest` rather than `python -m pytest`.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.support._otlp_grpc import GrpcOtlpReceiver  # noqa: E402
from tests.support.fixtures import otlp_receiver  # noqa: E402, F401


@pytest.fixture
def grpc_receiver() -> Iterator[GrpcOtlpReceiver]:
    """A started OTLP/gRPC trace receiver on a free loopback port, stopped after the test."""
    with GrpcOtlpReceiver() as receiver:
        yield receiver
