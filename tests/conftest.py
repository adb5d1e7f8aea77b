"""Fixtures shared by every test package: external tools and loopback ports; and how the suite
is split between pytest-xdist workers (``scripts/test`` runs ``-n 2 --dist loadgroup``)."""

from __future__ import annotations

import shutil
import socket

import pytest

#: Session fixtures that start a whole stack (servers, traffic, minutes of evaluation).  Under
#: pytest-xdist each worker would start its own copy of a session fixture its tests use, so every
#: test using one of these runs in the same worker: the stack starts once per run, as without
#: xdist.  Cheap session fixtures (tool paths, an in-process receiver) need no such care.
SHARED_STACKS = ("shop", "engines", "backfilled", "live", "service")


def xdist_group(item: pytest.Item) -> str:
    """The xdist group ``item`` runs in: the first shared stack it uses, else its module (so a
    module- or class-scoped fixture is also set up once, in one worker)."""
    defs = getattr(item, "_fixtureinfo", None)
    for name in SHARED_STACKS:
        fixturedefs = defs.name2fixturedefs.get(name) if defs is not None else None
        if name in item.fixturenames and fixturedefs and fixturedefs[-1].scope == "session":
            return f"stack:{name}"
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its xdist group (``--dist loadgroup`` keeps a group in one worker;
    without xdist the mark does nothing)."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(xdist_group(item)))


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
