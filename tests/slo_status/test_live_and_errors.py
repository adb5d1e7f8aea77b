"""``status`` and ``gate`` against a live server (firing tiers, too little data, rules not
loaded, an unknown SLO), through an authenticating proxy (prefix, tenant, token, basic auth,
headers), and against a closed port.  Every error is a message and a documented exit code."""

from __future__ import annotations

import base64
import json
import os
import pty
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.conftest import free_port

from .conftest import SHOP_SPEC, Backfilled, Live, run_obskit

TOKEN = "s3cret-token-value"
PASSWORD = "pa55-word-value"


def _status(spec_dir: Path, url: str, *extra: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_obskit("slo", "status", str(spec_dir), "--prometheus", url, *extra, env=env)


def test_firing_tiers_come_from_alerts_and_seconds_of_data_are_too_little(live: Live) -> None:
    """50 % errors: every enabled tier fires (read from ALERTS by obskit's labels); the 7-day
    period has seconds of data, so the exit code is 7 and the message says how much exists."""
    result = _status(live.spec_dir, live.prometheus.url, "--format", "json")
    assert result.returncode == 7, result.stderr
    slo = json.loads(result.stdout)["slos"][0]
    assert "page-1h" in slo["firing"]
    assert slo["error_ratio"] == pytest.approx(0.5, rel=1e-6)
    assert slo["problem"]["kind"] == "too_little_data"
    assert 0 < slo["data_seconds"] < 600
    assert "of the 7d period" in slo["problem"]["message"]
    assert "too little data" in result.stderr


def test_sloth_shaped_alerts_are_found_by_sloth_labels(live: Live) -> None:
    """A Sloth spec's alerts (Sloth's alert name, one per severity, `sloth_severity` and
    `sloth_window` instead of `obskit_tier`) still show as the tier whose window pair holds:
    at 50 % errors the page alert is pending (Sloth input keeps `for: 2m`) as page-1h."""
    deadline = time.monotonic() + 30
    while True:
        result = _status(live.sloth_dir, live.prometheus.url, "--format", "json")
        slo = json.loads(result.stdout)["slos"][0]
        states = {t["name"]: t["state"] for t in slo["tiers"]}
        if states["page-1h"] != "inactive" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert (slo["service"], slo["slo"]) == ("legacy", "requests-availability")
    assert states["page-1h"] in ("pending", "firing"), states
    assert states["ticket-1d"] in ("pending", "firing"), states
    assert slo["error_ratio"] == pytest.approx(0.5, rel=1e-6)


def test_gate_blocks_while_a_page_tier_fires(live: Live) -> None:
    """freeze_while_firing: [page] with page tiers firing: exit 1, one BLOCK line per firing
    page tier, and the too-little-data problem is only a warning for the gate."""
    result = run_obskit("slo", "gate", str(live.spec_dir), "--prometheus", live.prometheus.url)
    assert result.returncode == 1, result.stdout + result.stderr
    blocks = [line for line in result.stdout.splitlines() if line.startswith("BLOCK")]
    assert blocks
    assert all("(page) is firing" in line for line in blocks)
    assert any("alert tier page-1h (page) is firing" in line for line in blocks)
    assert "WARN  live/availability: too little data" in result.stdout


def test_an_slo_the_server_never_recorded_is_exit_6(live: Live, tmp_path: Path) -> None:
    """A spec SLO absent from the loaded rules: exit 6, naming the SLO and the rule file."""
    spec = (live.spec_dir / "live.yaml").read_text() + (
        "  - name: newer\n    objective: 99\n    sli:\n      availability: {}\n"
    )
    (tmp_path / "live.yaml").write_text(spec)
    result = _status(tmp_path, live.prometheus.url)
    assert result.returncode == 6, result.stderr
    assert "never recorded SLO live-newer" in result.stderr
    assert "rules/live.yaml" in result.stderr


def test_rules_not_loaded_is_exit_5_and_names_the_rule_file(live: Live, tmp_path: Path) -> None:
    """A service whose rules the server does not have: status exit 5 naming rules/shop.yaml;
    gate cannot decide (exit 2) rather than allow."""
    (tmp_path / "shop.yaml").write_text(SHOP_SPEC)
    result = _status(tmp_path, live.prometheus.url)
    assert result.returncode == 5, result.stderr
    assert "load rules/shop.yaml" in result.stderr
    gate = run_obskit("slo", "gate", str(tmp_path), "--prometheus", live.prometheus.url)
    assert gate.returncode == 2, gate.stdout
    assert "cannot evaluate the policy" in gate.stdout


def test_unreachable_server(tmp_path: Path) -> None:
    """A closed port: status exit 3; gate exit 2, or 0 with a warning under --fail-open."""
    (tmp_path / "shop.yaml").write_text(SHOP_SPEC)
    url = f"http://127.0.0.1:{free_port()}"
    result = _status(tmp_path, url)
    assert result.returncode == 3
    assert "server unreachable" in result.stderr
    assert "Traceback" not in result.stderr
    gate = run_obskit("slo", "gate", str(tmp_path), "--prometheus", url)
    assert gate.returncode == 2
    open_gate = run_obskit("slo", "gate", str(tmp_path), "--prometheus", url, "--fail-open")
    assert open_gate.returncode == 0
    assert "--fail-open: allowing although the server is unreachable" in open_gate.stderr


class _Proxy(BaseHTTPRequestHandler):
    """Serves ``/prom/api/...`` of the backfilled server to tenant ``team-a`` with the bearer
    token or basic ``ci``:PASSWORD only, and records the headers it saw."""

    upstream = ""
    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:
        type(self).seen.append(dict(self.headers))
        auth = self.headers.get("Authorization", "")
        basic = "Basic " + base64.b64encode(f"ci:{PASSWORD}".encode()).decode()
        if not self.path.startswith("/prom/"):
            return self._reply(404, b"404 page not found\n")
        if auth not in (f"Bearer {TOKEN}", basic):
            return self._reply(401, b'{"status":"error","error":"unauthorized"}')
        if self.headers.get("X-Scope-OrgID") != "team-a":
            return self._reply(403, b'{"status":"error","error":"no such tenant"}')
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = urllib.request.Request(
            self.upstream + self.path[len("/prom") :],
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            self._reply(200, response.read())

    def _reply(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy(backfilled: Backfilled) -> Iterator[str]:
    _Proxy.upstream = backfilled.prometheus.url
    _Proxy.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prom"
    server.shutdown()
    server.server_close()


def _via(backfilled: Backfilled, url: str, *extra: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return _status(
        backfilled.spec_dir, url, "--at", str(backfilled.end), "--format", "json", *extra, env=env
    )


def test_prefix_tenant_and_token_reach_the_same_figures(backfilled: Backfilled, proxy: str) -> None:
    """Through the proxy (path prefix, X-Scope-OrgID, bearer token from the environment, an
    extra header) the JSON equals the direct answer; the token is printed nowhere."""
    direct = _via(backfilled, backfilled.prometheus.url)
    env = {"OBSKIT_PROMETHEUS_TOKEN": TOKEN}
    result = _via(backfilled, proxy, "--tenant", "team-a", "--header", "X-Extra: yes", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["slos"] == json.loads(direct.stdout)["slos"]
    assert TOKEN not in result.stdout + result.stderr
    assert _Proxy.seen
    assert all(h.get("X-Extra") == "yes" for h in _Proxy.seen)


def test_basic_auth_from_the_environment(backfilled: Backfilled, proxy: str) -> None:
    """OBSKIT_PROMETHEUS_USER/PASSWORD give basic auth; the password is printed nowhere."""
    env = {"OBSKIT_PROMETHEUS_USER": "ci", "OBSKIT_PROMETHEUS_PASSWORD": PASSWORD}
    result = _via(backfilled, proxy, "--tenant", "team-a", env=env)
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_401_and_403_are_exit_4_with_what_to_set(backfilled: Backfilled, proxy: str) -> None:
    """No credentials: 401, exit 4, naming the variables to set; a wrong tenant: 403, exit 4;
    credentials in the URL are never echoed."""
    result = _via(backfilled, proxy, "--tenant", "team-a")
    assert result.returncode == 4
    assert "HTTP 401" in result.stderr
    assert "OBSKIT_PROMETHEUS_TOKEN" in result.stderr
    env = {"OBSKIT_PROMETHEUS_TOKEN": TOKEN}
    result = _via(backfilled, proxy, "--tenant", "team-b", env=env)
    assert result.returncode == 4
    assert "HTTP 403" in result.stderr
    url = proxy.replace("http://", f"http://ci:{PASSWORD}@")
    result = _via(backfilled, url, "--tenant", "team-b")
    assert result.returncode == 4
    assert PASSWORD not in result.stdout + result.stderr


def test_a_wrong_path_prefix_is_exit_8(backfilled: Backfilled, proxy: str) -> None:
    """A URL without the prefix the server needs answers 404: exit 8 with a prefix hint."""
    result = _via(backfilled, proxy.removesuffix("/prom"), "--tenant", "team-a")
    assert result.returncode == 8
    assert "path prefix" in result.stderr


def _in_pty(args: list[str], env: dict[str, str]) -> str:
    master, slave = pty.openpty()
    with subprocess.Popen(args, stdout=slave, stderr=subprocess.DEVNULL, env=env) as proc:
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_unless_no_color(backfilled: Backfilled) -> None:
    """On a terminal the table has ANSI colours; NO_COLOR turns them off."""
    args = [sys.executable, "-m", "obskit", "slo", "status", str(backfilled.spec_dir),
            "--prometheus", backfilled.prometheus.url, "--at", str(backfilled.end)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm"
    assert "\033[" in _in_pty(args, env)
    assert "\033[" not in _in_pty(args, {**env, "NO_COLOR": "1"})
