"""Option resolution: argument, then environment, then default; clear errors."""

from __future__ import annotations

import pytest

from obskit import conventions
from obskit._runtime.config import DEFAULT_REDACT_KEYS, resolve


def test_defaults_without_environment() -> None:
    """With nothing set, every option takes its documented default."""
    cfg = resolve({}, env={})
    assert cfg.service_name == "unknown_service"
    assert (cfg.service_version, cfg.environment) == ("", "")
    assert cfg.log_level == "INFO"
    assert cfg.metrics_port == 9464
    assert cfg.metrics_addr == "0.0.0.0"
    assert cfg.access_log
    assert cfg.traces
    assert cfg.instrument_frameworks
    assert cfg.instrument_libraries
    assert cfg.excluded_paths == frozenset(conventions.DEFAULT_EXCLUDED_PATHS)
    assert cfg.redact_keys == DEFAULT_REDACT_KEYS


def test_argument_beats_environment_beats_default() -> None:
    """An argument wins over OBSKIT_* which wins over the default."""
    env = {"OBSKIT_METRICS_PORT": "9100", "OBSKIT_LOG_LEVEL": "debug", "OBSKIT_ACCESS_LOG": "0"}
    cfg = resolve({"metrics_port": 9200}, env=env)
    assert cfg.metrics_port == 9200
    assert cfg.log_level == "DEBUG"
    assert cfg.access_log is False
    assert resolve({}, env=env).metrics_port == 9100


def test_service_identity_from_otel_variables() -> None:
    """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES fill name, version and environment."""
    env = {
        "OTEL_RESOURCE_ATTRIBUTES": "service.name=res,service.version=2.0,"
        "deployment.environment.name=prod%20eu",
        "OTEL_SERVICE_NAME": "otel",
    }
    cfg = resolve({}, env=env)
    assert (cfg.service_name, cfg.service_version, cfg.environment) == ("otel", "2.0", "prod eu")
    assert resolve({}, env={**env, "OBSKIT_SERVICE_NAME": "mine"}).service_name == "mine"
    assert resolve({"service_name": "arg"}, env=env).service_name == "arg"


def test_log_format_auto_and_explicit() -> None:
    """log_format auto resolves to json when stdout is not a TTY (pytest captures it)."""
    assert resolve({}, env={}).log_format == "json"
    assert resolve({}, env={"OBSKIT_LOG_FORMAT": "console"}).log_format == "console"


def test_metrics_port_zero_disables() -> None:
    """OBSKIT_METRICS_PORT=0 is accepted (the server is disabled)."""
    assert resolve({}, env={"OBSKIT_METRICS_PORT": "0"}).metrics_port == 0


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        ({}, {"OBSKIT_METRICS_PORT": "http"}, "OBSKIT_METRICS_PORT"),
        ({"metrics_port": 70000}, {}, "metrics_port"),
        ({}, {"OBSKIT_LOG_LEVEL": "loud"}, "OBSKIT_LOG_LEVEL"),
        ({}, {"OBSKIT_LOG_FORMAT": "xml"}, "OBSKIT_LOG_FORMAT"),
        ({}, {"OBSKIT_TRACES": "maybe"}, "OBSKIT_TRACES"),
    ],
)
def test_bad_values_name_the_option(
    args: dict[str, object], env: dict[str, str], needle: str
) -> None:
    """A bad value raises ValueError naming the option or its variable."""
    with pytest.raises(ValueError, match=needle):
        resolve(args, env=env)


def test_unknown_option_is_a_type_error() -> None:
    """A misspelt keyword is rejected, naming it."""
    with pytest.raises(TypeError, match="metric_port"):
        resolve({"metric_port": 1}, env={})


def test_otel_sdk_disabled_turns_traces_off() -> None:
    """OTEL_SDK_DISABLED=true disables tracing even when traces=True."""
    assert resolve({"traces": True}, env={"OTEL_SDK_DISABLED": "true"}).traces is False


def test_lists_excluded_paths_and_redact_keys() -> None:
    """Comma lists replace the defaults; a leading + extends the redaction defaults."""
    cfg = resolve({}, env={"OBSKIT_EXCLUDED_PATHS": "/a/, /b", "OBSKIT_REDACT_KEYS": "+SSN"})
    assert cfg.excluded_paths == frozenset({"/a", "/b"})
    assert "ssn" in cfg.redact_keys
    assert "password" in cfg.redact_keys
    assert resolve({"redact_keys": ["iban"]}, env={}).redact_keys == frozenset({"iban"})
