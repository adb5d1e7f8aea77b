"""The OTLP protocol choice: unsupported values are reported once, as JSON, never silently."""

from __future__ import annotations

import json

import pytest
from tests.support import run_python

_PROGRAM = "import obskit; obskit.init('proto-check'); obskit.shutdown()"


def _run(env_extra: dict[str, str]) -> list[str]:
    env = {
        "OBSKIT_METRICS_PORT": "0",
        "OBSKIT_LOG_FORMAT": "json",
        "OBSKIT_INSTRUMENT_LIBRARIES": "false",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
    }
    proc = run_python("-c", _PROGRAM, env={**env, **env_extra})
    assert proc.returncode == 0, proc.stderr
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"), ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grcp")],
)
def test_unsupported_protocol_is_one_json_warning_naming_the_variable(
    variable: str, value: str
) -> None:
    """A protocol obskit cannot export with (a typo, or http/json) gives exactly one JSON
    warning naming the variable and the value, logged through the JSON pipeline even though it
    happens while init() is still building the exporter; nothing is printed as plain text."""
    lines = _run({variable: value})
    records = [json.loads(line) for line in lines]  # every line is JSON
    warnings = [r for r in records if r.get("event") == "invalid setting"]
    assert len(warnings) == 1, lines
    assert warnings[0]["level"] == "warning"
    assert warnings[0]["service"] == "proto-check"
    assert warnings[0]["variable"] == variable
    assert warnings[0]["value"] == value
    assert warnings[0]["using"] == "http/protobuf"


def test_supported_protocols_warn_nothing() -> None:
    """``http/protobuf`` (any case) is accepted without a word."""
    lines = _run({"OTEL_EXPORTER_OTLP_PROTOCOL": "HTTP/protobuf"})
    assert not [line for line in lines if "invalid setting" in line], lines
