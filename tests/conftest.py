"""Fixtures shared by every test package: external tools and loopback ports; and how the suite
is split between pytest-xdist workers (``scripts/test`` runs ``-n 2 --dist loadscope``)."""

from __future__ import annotations

import shutil
import socket
from typing import Any

import pytest

#: Test modules sharing a session fixture that starts a whole stack (servers, traffic, up to a
#: minute of evaluation), by the group of modules that share it.  Under pytest-xdist every worker
#: would start its own copy of a session fixture its tests use, so ``scripts/test``'s
#: ``--dist loadscope`` sends each group to one worker (:class:`StackScopeScheduling`): the
#: stack starts once per run, as without xdist.  Every other module is a group of its own (its
#: module- and class-scoped fixtures are set up once, in one worker).  A module missing here
#: still passes, starting its own copy; the collection warns about it.
SHARED_STACKS = {
    "shop": ("tests/e2e/test_dashboards.py", "tests/e2e/test_exemplars.py",
             "tests/e2e/test_slo_rules.py"),
    "service": tuple(f"tests/runtime_e2e/test_{name}.py" for name in (
        "cardinality", "correlation", "exposition", "hostile_headers", "redaction", "workers")),
    "backfilled+live": ("tests/slo_status/test_backfilled.py",
                        "tests/slo_status/test_live_and_errors.py",
                        "tests/slo_status/test_victoriametrics.py"),
}  # fmt: skip
STACK_OF_MODULE = {module: group for group, mods in SHARED_STACKS.items() for module in mods}
#: The session fixtures those groups share (``engines`` serves a single module).
STACK_FIXTURES = ("shop", "service", "backfilled", "live")


def xdist_scope(nodeid: str) -> str:
    """The unit of work ``nodeid`` belongs to: its module's stack group, else its module."""
    module = nodeid.split("::", 1)[0]
    return STACK_OF_MODULE.get(module, module)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: unknown where xdist is not installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` with the scopes of :func:`xdist_scope`.  (``--dist loadgroup``
    would do with ``xdist_group`` marks, but pytest 9.2's structured node ids break it:
    pytest-dev/pytest-xdist#1386.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class StackScopeScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    return StackScopeScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Warn about a module that uses a shared stack but is not in :data:`SHARED_STACKS` (under
    xdist it would start a second copy of the stack)."""
    warned: set[str] = set()
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        if module in STACK_OF_MODULE or module in warned:
            continue
        infos = getattr(item, "_fixtureinfo", None)
        for name in STACK_FIXTURES:
            defs = infos.name2fixturedefs.get(name) if infos is not None else None
            if name in item.fixturenames and defs and defs[-1].scope == "session":
                warned.add(module)
                item.warn(
                    pytest.PytestWarning(
                        f"{module} uses the shared stack `{name}`: add it to SHARED_STACKS in "
                        "tests/conftest.py, or each xdist worker starts its own copy"
                    )
                )
                break


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
