"""Fixtures for the Django tests: the in-process project (configured once per process) and an
isolated obskit runtime; the served variants are started by the tests themselves."""

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

from tests.support.fixtures import otlp_receiver, spawn  # noqa: E402, F401

from obskit.testing import IsolatedRuntime  # noqa: E402

APPS_DIR = Path(__file__).resolve().parent / "apps"


@pytest.fixture(scope="session")
def django_project() -> None:
    """The test project's settings, configured once for the pytest process, Django set up."""
    import django
    from django.conf import settings
    from tests.runtime_django.apps import djproject

    if not settings.configured:
        djproject.configure()
    django.setup()


@pytest.fixture
def rt(django_project: None) -> Iterator[IsolatedRuntime]:
    """An isolated obskit runtime (in-memory spans, captured events, own registry); entering it
    installs obskit's framework hooks, Django's included."""
    with IsolatedRuntime() as runtime:
        yield runtime
