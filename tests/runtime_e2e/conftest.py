"""Fixtures for the runtime end-to-end tests: a session OTLP receiver and one running service per
server kind (uvicorn, Flask under gunicorn, gunicorn with two uvicorn workers)."""

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

from tests.runtime_e2e._service import KINDS, Kind, Service, run_service  # noqa: E402
from tests.support import HeaderRecorder, OtlpReceiver  # noqa: E402
from tests.support.fixtures import otlp_receiver, spawn  # noqa: E402, F401


@pytest.fixture(scope="session")
def session_receiver() -> Iterator[OtlpReceiver]:
    """One OTLP/HTTP receiver shared by the long-running services (spans are found by trace id)."""
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def downstream() -> Iterator[HeaderRecorder]:
    """The HTTP service the apps' ``/proxy/{n}`` route calls; it records the headers it gets."""
    with HeaderRecorder() as recorder:
        yield recorder


@pytest.fixture(scope="session", params=KINDS, ids=[k.id for k in KINDS])
def service(
    request: pytest.FixtureRequest,
    session_receiver: OtlpReceiver,
    downstream: HeaderRecorder,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    """A running service of each kind, shared by the tests that only send requests to it."""
    kind: Kind = request.param
    with run_service(
        kind,
        otlp_endpoint=session_receiver.endpoint,
        tmp_dir=tmp_path_factory.mktemp(kind.id),
        extra_env={"E2E_DOWNSTREAM_URL": downstream.url},
    ) as svc:
        yield svc


@pytest.fixture(params=KINDS, ids=[k.id for k in KINDS])
def kind(request: pytest.FixtureRequest) -> Kind:
    """Each server kind, for tests that start (and stop) their own service."""
    kind: Kind = request.param
    return kind
