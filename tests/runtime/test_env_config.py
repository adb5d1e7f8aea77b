"""The configuration rule: each bad variable gives one JSON warning naming it; the service runs.

Each case starts a fresh interpreter (the SDK reads several variables when it is imported) that
calls ``obskit.init()``, records an operation (a span, exported to a closed port) and shuts down;
everything it prints must be JSON, with exactly one ``invalid setting`` line for the variable,
giving the value (never for headers: secret) and what is used instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.support import run_python

from obskit._runtime import envcheck as _envcheck
from obskit._runtime.config import resolve

_ROOT = Path(__file__).resolve().parents[2]
_PROGRAM = """
import obskit
obskit.init("envcheck")
with obskit.observe("op"):
    pass
obskit.shutdown()
"""
_SECRET = "s3cr3t-header-value"


def _closed_port() -> int:
    sys.path.insert(0, str(_ROOT))
    from tests.support import closed_port

    return closed_port()


def _run(extra: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    env = {
        "OBSKIT_METRICS_PORT": "0",
        "OBSKIT_LOG_FORMAT": "json",
        "OBSKIT_INSTRUMENT_LIBRARIES": "false",
        "OBSKIT_SHUTDOWN_TIMEOUT": "2",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "500",
    }
    proc = run_python("-c", _PROGRAM, env={**env, **extra})
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a plain-text line: {line!r}\nall output:\n" + "\n".join(lines))
    return proc, records


# (variables set, the variable reported, the value reported (None: not in the line), using)
_CASES: list[tuple[dict[str, str], str, str | None, str]] = [
    ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER", "sometimes",
     "parentbased_always_on"),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"},
     "OTEL_TRACES_SAMPLER_ARG", "half", "1.0"),
    ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"},
     "OTEL_TRACES_SAMPLER_ARG", "1.5", "1.0"),
    ({"OTEL_PROPAGATORS": "tracecontext,bogus"}, "OTEL_PROPAGATORS", "tracecontext,bogus",
     "tracecontext"),
    ({"OTEL_PROPAGATORS": "b3multi"}, "OTEL_PROPAGATORS", "b3multi", "tracecontext,baggage"),
    ({"OTEL_BSP_SCHEDULE_DELAY": "soon"}, "OTEL_BSP_SCHEDULE_DELAY", "soon", "5000"),
    ({"OTEL_BSP_MAX_QUEUE_SIZE": "0"}, "OTEL_BSP_MAX_QUEUE_SIZE", "0", "2048"),
    ({"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "-3"}, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "-3", "128"),
    ({"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "9000"}, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "9000", "128"),
    ({"OTEL_BSP_EXPORT_TIMEOUT": "1s"}, "OTEL_BSP_EXPORT_TIMEOUT", "1s", "30000"),
    ({"OTEL_EXPORTER_OTLP_COMPRESSION": "brotli"}, "OTEL_EXPORTER_OTLP_COMPRESSION", "brotli",
     "none"),
    ({"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "zip"}, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
     "zip", "none"),
    ({"OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {_SECRET},{_SECRET}"},
     "OTEL_EXPORTER_OTLP_HEADERS", None, "the other headers (authorization)"),
    ({"OTEL_EXPORTER_OTLP_TRACES_HEADERS": f"x-token {_SECRET}"},
     "OTEL_EXPORTER_OTLP_TRACES_HEADERS", None, "the other headers (none)"),
    ({"OTEL_RESOURCE_ATTRIBUTES": "team=payments,oops"}, "OTEL_RESOURCE_ATTRIBUTES",
     "team=payments,oops", "team=payments"),
    ({"OTEL_SDK_DISABLED": "maybe"}, "OTEL_SDK_DISABLED", "maybe", "false"),
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "2s"}, "OTEL_EXPORTER_OTLP_TIMEOUT", "2s", "3000 ms"),
    ({"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "-1"}, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "-1",
     "3000 ms"),
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "10"}, "OTEL_EXPORTER_OTLP_TIMEOUT", "10", "10 ms"),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:9"},
     "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9", "the endpoint as given"),
    ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER", "zipkin", "otlp"),
    ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json",
     "http/protobuf"),
    ({"OTEL_EXPORTER_OTLP_INSECURE": "sure"}, "OTEL_EXPORTER_OTLP_INSECURE", "sure", "false"),
    ({"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "many"}, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "many",
     "128"),
    ({"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "-5"}, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-5",
     "no limit"),
    ({"OTEL_PYTHON_EXCLUDED_URLS": "healthz,(unclosed"}, "OTEL_PYTHON_EXCLUDED_URLS",
     "healthz,(unclosed", "healthz"),
    ({"OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": "["}, "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", "[",
     "no excluded URLs"),
    ({"OBSKIT_LOG_LEVEL": "loud"}, "OBSKIT_LOG_LEVEL", "loud", "INFO"),
    ({"OBSKIT_TRACES": "perhaps"}, "OBSKIT_TRACES", "perhaps", "true"),
    ({"OBSKIT_SHUTDOWN_TIMEOUT": "soon"}, "OBSKIT_SHUTDOWN_TIMEOUT", "soon", "5"),
    ({"OBSKIT_HTTP_BUCKETS": "1,0.5"}, "OBSKIT_HTTP_BUCKETS", "1,0.5", "the default buckets"),
    ({"OBSKIT_REDACT_PATTERNS": "sk_live_\\w+ (unclosed"}, "OBSKIT_REDACT_PATTERNS",
     "sk_live_\\w+ (unclosed", "the valid patterns"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("env", "variable", "value", "using"), _CASES, ids=[f"{c[1]}={c[2]}" for c in _CASES]
)
def test_bad_variable_is_one_json_warning_and_the_service_runs(
    env: dict[str, str], variable: str, value: str | None, using: str
) -> None:
    """A bad value: the process runs to the end (no crash at import or init, no traceback),
    prints only JSON lines, and exactly one warning names the variable, its value (absent for a
    secret) and what is used instead."""
    proc, records = _run(env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    found = [r for r in records if r.get("event") == "invalid setting"]
    assert [r["variable"] for r in found] == [variable], found
    line = found[0]
    assert line["level"] == "warning"
    assert line["logger"] == "obskit.config"
    assert line["service"] == "envcheck"
    assert line.get("value") == value
    assert line["using"] == using
    assert line["problem"]
    assert _SECRET not in proc.stdout + proc.stderr


def test_valid_values_are_silent() -> None:
    """Valid values of every checked variable give no warning at all."""
    proc, records = _run(
        {
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.5",
            "OTEL_PROPAGATORS": "tracecontext, baggage",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_BSP_MAX_QUEUE_SIZE": "4096",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "256",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20x,x-tenant=a",
            "OTEL_RESOURCE_ATTRIBUTES": "team=payments,region=eu%2Dwest",
            "OTEL_SDK_DISABLED": "false",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "64",
            "OTEL_PYTHON_EXCLUDED_URLS": "healthz,/internal/.*",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
        }
    )
    assert proc.returncode == 0, proc.stderr
    assert not [r for r in records if r.get("event") == "invalid setting"], records


@pytest.mark.parametrize(
    ("variable", "value"),
    [("OTEL_LOGS_EXPORTER", "otlp"), ("OTEL_METRICS_EXPORTER", "otlp,console")],
)
def test_other_signal_exporters_warn_once(variable: str, value: str) -> None:
    """An OTLP logs or metrics exporter is not something obskit does: one warning (not one per
    check) says logs go to stdout / metrics to Prometheus."""
    proc, records = _run({variable: value})
    assert proc.returncode == 0, proc.stderr
    found = [r for r in records if r.get("event") == "invalid setting"]
    assert [(r["variable"], r["value"]) for r in found] == [(variable, value)]
    assert ("stdout" if variable == "OTEL_LOGS_EXPORTER" else "Prometheus") in found[0]["using"]


def test_check_cleans_the_environment_for_the_sdk() -> None:
    """What ``check()`` reports is removed or reduced to its valid part, so the SDK (which reads
    the environment itself) never sees it, and a second check finds nothing."""
    env = {
        "OTEL_PROPAGATORS": "tracecontext,nope",
        "OTEL_BSP_MAX_QUEUE_SIZE": "x",
        "OTEL_EXPORTER_OTLP_HEADERS": "a=1,broken,b=2",
        "OTEL_RESOURCE_ATTRIBUTES": "k=v,,junk",
    }
    names = sorted(env)
    problems = _envcheck.check(env)
    assert sorted(p.variable for p in problems) == names
    assert env == {
        "OTEL_PROPAGATORS": "tracecontext",
        "OTEL_EXPORTER_OTLP_HEADERS": "a=1,b=2",
        "OTEL_RESOURCE_ATTRIBUTES": "k=v",
    }
    assert _envcheck.check(env) == []


def test_bad_obskit_variable_is_reported_but_a_bad_argument_raises() -> None:
    """With a problems list (what init() passes), a bad OBSKIT_* variable falls back to the
    default and is reported; the same mistake as an init() argument is a programming error."""
    problems: list[_envcheck.Problem] = []
    config = resolve({}, env={"OBSKIT_LOG_FORMAT": "xml"}, problems=problems)
    assert config.log_format in ("json", "console")
    assert [(p.variable, p.value, p.using) for p in problems] == [
        ("OBSKIT_LOG_FORMAT", "xml", "auto")
    ]
    with pytest.raises(ValueError, match="log_format"):
        resolve({"log_format": "xml"}, env={}, problems=[])


def test_one_bad_redaction_pattern_keeps_the_valid_ones() -> None:
    """A typo in one of OBSKIT_REDACT_PATTERNS must not switch redaction off for the others;
    as an init() argument the same typo raises."""
    problems: list[_envcheck.Problem] = []
    env = {"OBSKIT_REDACT_PATTERNS": r"sk_live_\w+ (unclosed tok_\d+"}
    config = resolve({}, env=env, problems=problems)
    assert config.redact_patterns == (r"sk_live_\w+", r"tok_\d+")
    assert [p.variable for p in problems] == ["OBSKIT_REDACT_PATTERNS"]
    with pytest.raises(ValueError, match="redact_patterns"):
        resolve({"redact_patterns": ["(unclosed"]}, env={}, problems=[])
