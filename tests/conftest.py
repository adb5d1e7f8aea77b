"""Fixtures shared by every test package: external tools and loopback ports."""

from __future__ import annotations

import shutil
import socket

import pytest


def _require_tool(name: str, package: str = "prometheus") -> str:
    """Path of ``name``; a missing tool fails the test loudly (never a silent skip)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not on PATH: install Debian's `{package}` package "
            "(bash .ci/run does this)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path to `promtool` (Debian package `prometheus`)."""
    return _require_tool("promtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    """Path to the `prometheus` server binary (Debian package `prometheus`)."""
    return _require_tool("prometheus")


@pytest.fixture(scope="session")
def victoria_metrics_bins() -> dict[str, str]:
    """Paths to `victoria-metrics`, `vmagent` and `vmalert` (Debian package `victoria-metrics`)."""
    names = ("victoria-metrics", "vmagent", "vmalert")
    return {name: _require_tool(name, "victoria-metrics") for name in names}


@pytest.fixture(scope="session")
def alertmanager_bin() -> str:
    """Path to Alertmanager (Debian package `prometheus-alertmanager`, binary of that name)."""
    return _require_tool("prometheus-alertmanager", "prometheus-alertmanager")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
