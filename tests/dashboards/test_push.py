"""`obskit dashboards push` against a real HTTP server on 127.0.0.1 playing Grafana's API."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from examples.stack import LocalServer, QuietHandler

from obskit._cli import main
from obskit.dashboards._build import DashboardOptions, render
from obskit.slo import Service

TOKEN = "glsa_s3cr3t-token-value"


class FakeGrafana:
    """Records every request; answers with ``status`` and checks the documented payload."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.problems: list[str] = []
        self.expected_auth = f"Bearer {TOKEN}"

    def handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        length = int(handler.headers.get("Content-Length", "0"))
        body = json.loads(handler.rfile.read(length))
        self.requests.append({"path": handler.path, "headers": dict(handler.headers), "body": body})
        if handler.path != "/api/dashboards/db":
            self.problems.append(f"path {handler.path}")
        if handler.headers.get("Content-Type") != "application/json":
            self.problems.append("content type")
        if sorted(body) != ["dashboard", "folderUid", "message", "overwrite"]:
            self.problems.append(f"payload keys {sorted(body)}")
        dashboard = body.get("dashboard", {})
        if body.get("overwrite") is not True or dashboard.get("id", "missing") is not None:
            self.problems.append("overwrite must be true and dashboard.id null")
        if not dashboard.get("uid") or not dashboard.get("title"):
            self.problems.append("dashboard without uid/title")
        if handler.headers.get("Authorization") != self.expected_auth:
            return 401, {"message": "invalid API key"}
        if self.status == 412:
            return 412, {
                "message": "A dashboard with the same name exists",
                "status": "name-exists",
            }
        if self.status != 200:
            return self.status, {"message": "Access denied"}
        uid = dashboard["uid"]
        return 200, {"id": 1, "uid": uid, "url": f"/d/{uid}/x", "status": "success", "version": 3}


@pytest.fixture
def grafana() -> Iterator[tuple[FakeGrafana, str]]:
    """A Grafana stand-in on a free loopback port, stopped after the test."""
    fake = FakeGrafana()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            status, answer = fake.handle(self)
            self.reply(status, json.dumps(answer).encode(), "application/json")

    with LocalServer(Handler) as server:
        yield fake, server.url


@pytest.fixture
def folder(tmp_path: Path, checkout: Service) -> Path:
    """A build's dashboards/ folder (service, fleet, generic, provider.yaml)."""
    for rel, text in render([checkout], DashboardOptions()).items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return tmp_path


def test_push_saves_every_dashboard_with_the_documented_payload(
    grafana: tuple[FakeGrafana, str], folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each *.json of the folder is POSTed once with overwrite, folderUid and message."""
    fake, url = grafana
    code = main(["dashboards", "push", str(folder), "--url", url + "/", "--token", TOKEN,
                 "--folder-uid", "slo", "--message", "ci"])  # fmt: skip
    assert code == 0
    assert fake.problems == []
    uids = sorted(r["body"]["dashboard"]["uid"] for r in fake.requests)
    assert uids == ["obskit-service", "obskit-slo-fleet", "slo-checkout"]
    assert {r["body"]["folderUid"] for r in fake.requests} == {"slo"}
    assert {r["body"]["message"] for r in fake.requests} == {"ci"}
    out = capsys.readouterr()
    assert "saved slo-checkout (version 3)" in out.out
    assert TOKEN not in out.out + out.err


def test_basic_auth_from_environment(
    grafana: tuple[FakeGrafana, str],
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GRAFANA_USER/GRAFANA_PASSWORD send a Basic header."""
    fake, url = grafana
    fake.expected_auth = "Basic " + base64.b64encode(b"admin:pw").decode()
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    monkeypatch.setenv("GRAFANA_USER", "admin")
    monkeypatch.setenv("GRAFANA_PASSWORD", "pw")
    assert main(["dashboards", "push", str(folder / "obskit"), "--url", url]) == 0
    assert len(fake.requests) == 3


@pytest.mark.parametrize(
    ("status", "token", "expected"),
    [
        (200, "wrong", "HTTP 401: authentication failed"),
        (403, TOKEN, "HTTP 403: permission denied"),
        (412, TOKEN, "HTTP 412: precondition failed"),
    ],
)
def test_error_statuses_are_explained_and_exit_1(
    grafana: tuple[FakeGrafana, str],
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    status: int,
    token: str,
    expected: str,
) -> None:
    """401, 403 and 412 give a clear message, exit code 1, and never echo the token."""
    fake, url = grafana
    fake.status = status
    assert main(["dashboards", "push", str(folder), "--url", url, "--token", token]) == 1
    err = capsys.readouterr().err
    assert expected in err
    assert token not in err
    if status == 401:
        assert len(fake.requests) == 1  # stops after the first authentication failure
    if status == 412:
        assert "name-exists" in err


def test_dry_run_prints_the_payload_and_sends_nothing(
    grafana: tuple[FakeGrafana, str], folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run prints each request body and redacted auth, with no request made."""
    fake, url = grafana
    path = folder / "obskit" / "slo-checkout.json"
    assert main(["dashboards", "push", str(path), "--url", url, "--token", TOKEN, "--dry-run"]) == 0
    assert fake.requests == []
    out = capsys.readouterr().out
    assert f"would POST {url}/api/dashboards/db (Authorization: Bearer <redacted>)" in out
    body = json.loads(out.split("\n", 1)[1])
    assert body["overwrite"] is True
    assert body["dashboard"]["uid"] == "slo-checkout"
    assert TOKEN not in out


def test_unreachable_grafana_is_a_clear_error(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A closed port gives 'cannot reach Grafana' and exit code 1."""
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert main(["dashboards", "push", str(folder / "obskit"), "--url", url, "--timeout", "2"]) == 1
    assert f"cannot reach Grafana at {url}" in capsys.readouterr().err


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No URL, a non-http URL, a missing path or a non-dashboard JSON: exit 2, nothing sent."""
    bad = tmp_path / "x.json"
    bad.write_text("[1, 2]")
    assert main(["dashboards", "push", str(bad)]) == 2
    assert main(["dashboards", "push", str(bad), "--url", "file:///etc/passwd"]) == 2
    assert main(["dashboards", "push", str(tmp_path / "nope"), "--url", "http://127.0.0.1:9"]) == 2
    assert main(["dashboards", "push", str(bad), "--url", "http://127.0.0.1:9"]) == 2
    assert "not a dashboard" in capsys.readouterr().err


def test_console_script_reads_token_from_environment(
    grafana: tuple[FakeGrafana, str], folder: Path
) -> None:
    """The installed `obskit` entry point pushes with GRAFANA_TOKEN and never prints it."""
    fake, url = grafana
    env = {"GRAFANA_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "obskit", "dashboards", "push", str(folder), "--url", url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(fake.requests) == 3
    assert TOKEN not in result.stdout + result.stderr
