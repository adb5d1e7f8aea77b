"""Bad input to ``status`` and ``gate`` is exit 2 with one clear line, before any request."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import free_port

from .conftest import SHOP_SPEC, run_obskit

SECRET = "Bearer very-secret-value"


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    (tmp_path / "shop.yaml").write_text(SHOP_SPEC)
    return tmp_path


@pytest.mark.parametrize("command", ["status", "gate"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prometheus", "ftp://host"], "not an http(s) URL"),
        (["--prometheus", "http://host:port"], "not a valid URL"),
        ([], "give --prometheus URL (or set OBSKIT_PROMETHEUS_URL)"),
        (["--prometheus", "URL", "--at", "yesterday"], "--at 'yesterday': not Unix seconds"),
        (["--prometheus", "URL", "--at", "2026-12-01T00:00:00"], "give a time zone"),
        (["--prometheus", "URL", "--service", "nope"], "--service nope: not in the specs"),
        (["--prometheus", "URL", "--slo", "nope"], "--slo nope: no such SLO"),
        (["--prometheus", "URL", "--header", f"Authorization {SECRET}"], "--header #1"),
    ],
)
def test_bad_options_are_exit_2_with_one_line(
    spec_dir: Path, command: str, args: list[str], message: str
) -> None:
    """Each bad option: exit 2, the reason on stderr, nothing on stdout, no header value."""
    args = [a.replace("URL", f"http://127.0.0.1:{free_port()}") for a in args]
    result = run_obskit("slo", command, str(spec_dir), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert result.stdout == ""
    assert SECRET not in result.stderr
    assert "Traceback" not in result.stderr


def test_spec_errors_are_exit_2_with_file_line_and_field(tmp_path: Path) -> None:
    """A bad policy in the spec stops both commands with the loader's file:line: field error."""
    (tmp_path / "shop.yaml").write_text(SHOP_SPEC.replace("freeze_below: 0.1", "freeze_below: 5"))
    for command in ("status", "gate"):
        result = run_obskit("slo", command, str(tmp_path), "--prometheus", "http://127.0.0.1:1")
        assert result.returncode == 2
        assert f"{tmp_path / 'shop.yaml'}:3: policy.freeze_below: 5 is not a share" in result.stderr
