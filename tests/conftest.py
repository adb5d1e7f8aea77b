"""Fixtures shared by every test package: external tools and loopback ports."""

from __future__ import annotations

import shutil
import socket

import pytest


def _require_tool(name: str) -> str:
    """Path of ``name``; a missing tool fails the test loudly (never a silent skip)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not on PATH: install Debian's `prometheus` package "
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


#: The second rule engine and alert delivery: binary → the Debian package that ships it.
ENGINE_TOOLS = {
    "victoria-metrics": "victoria-metrics",
    "vmagent": "victoria-metrics",
    "vmalert": "victoria-metrics",
    "prometheus-alertmanager": "prometheus-alertmanager",
}


@pytest.fixture(scope="session")
def engine_tools() -> dict[str, str]:
    """Paths of `victoria-metrics`, `vmagent`, `vmalert` (Debian package `victoria-metrics`)
    and `prometheus-alertmanager` (package of that name).  Any missing fails the test loudly,
    naming every missing binary and package at once."""
    found = {name: shutil.which(name) for name in ENGINE_TOOLS}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        packages = sorted({ENGINE_TOOLS[name] for name in missing})
        pytest.fail(
            f"not on PATH: {', '.join(f'`{n}`' for n in missing)}: install Debian's "
            f"{' and '.join(f'`{p}`' for p in packages)} (bash .ci/run does this)",
            pytrace=False,
        )
    return {name: path for name, path in found.items() if path}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
