"""obskit.testing as users meet it: a pytest plugin with spans, logs and metrics fixtures."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

USER_TESTS = """
import asyncio

import httpx
import pytest
from fastapi import FastAPI

import obskit


def make_app():
    app = FastAPI()

    @app.post("/checkout/{cart}")
    async def checkout(cart: str):
        obskit.get_logger("shop").info("checked out", cart=cart, card_token="4111")
        return {"ok": True}

    return app


def call(app, method, path):
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.request(method, path)).status_code

    return asyncio.run(go())


def test_user_app(obskit_spans, obskit_logs, obskit_metrics):
    assert call(make_app(), "POST", "/checkout/c1") == 200
    assert obskit_spans.names() == ["POST /checkout/{cart}"]
    shop = [e for e in obskit_logs.events if e["logger"] == "shop"][0]
    assert shop["card_token"] == "[REDACTED]"
    assert shop["trace_id"] == format(obskit_spans.spans[0].context.trace_id, "032x")
    assert obskit_metrics.value(
        "http_server_request_duration_seconds_count", http_route="/checkout/{cart}"
    ) == 1


def test_isolated_between_tests(obskit_spans, obskit_metrics):
    assert obskit_spans.spans == []
    assert obskit_metrics.value("http_server_request_duration_seconds_count") is None


def test_observe_in_user_code(obskit_spans, obskit_metrics):
    @obskit.observe("sync_job")
    def job():
        return 1

    job()
    obskit_spans.clear()
    assert obskit_spans.spans == []
    assert obskit_metrics.value(
        "obskit_operation_duration_seconds_count", operation="sync_job", outcome="ok"
    ) == 1
"""


def test_fixtures_work_in_a_users_test_suite(tmp_path: Path) -> None:
    """A user's test file using the three fixtures passes (plugin found through its entry
    point, no configuration), isolated test by test."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:obskit",
            "-p",
            "obskit.testing",
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_user.py"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_plugin_module_imports_light() -> None:
    """Loading the plugin does not import the runtime (cheap for suites that do not use it)."""
    code = "import sys, obskit.testing; print('obskit._runtime.lifecycle' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def test_plugin_is_registered_as_pytest11_entry_point() -> None:
    """The installed distribution advertises obskit.testing to pytest."""
    values = [ep.value for ep in entry_points(group="pytest11") if ep.name == "obskit"]
    assert values == ["obskit.testing"]
