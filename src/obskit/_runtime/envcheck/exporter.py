"""The span exporter's variables: which exporter, its endpoint, files and timeout, and the
exporters of the signals obskit does not export (logs, metrics)."""

from __future__ import annotations

import os
from typing import Final
from urllib.parse import urlsplit

from obskit._runtime.envcheck.problem import Env, Problem, drop, value_of

__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "NO_EXPORT",
    "endpoint",
    "export_timeout_s",
    "readable_file",
    "signal_exporters",
    "timeout",
    "traces_exporter",
]

#: ``using`` of a problem that turns span export off.
NO_EXPORT: Final = "no span export"
#: obskit's export timeout when none is configured (the SDK's 10 s holds the thread too long).
DEFAULT_TIMEOUT_MS: Final = 3000
#: A timeout below this is reported (as given, but probably meant as seconds).
_SHORT_TIMEOUT_MS: Final = 50
_GRPC_PORT: Final = 4317
_HTTP_PORT: Final = 4318
_EXPORTER_WORDS: Final = "obskit exports traces only"


def traces_exporter(env: Env) -> Problem | None:
    """``OTEL_TRACES_EXPORTER``: one of otlp/console/none (a list: its first name is used)."""
    name = "OTEL_TRACES_EXPORTER"
    value = value_of(env, name)
    if value is None:
        return None
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    allowed = ("otlp", "console", "none")
    if len(names) == 1 and names[0] in allowed:
        return None
    first = next((n for n in names if n in allowed), "otlp")
    env[name] = first
    return Problem(name, value, "expected one of otlp, console, none (one exporter)", first)


def signal_exporters(env: Env) -> list[Problem]:
    """obskit writes logs to stdout and serves metrics for Prometheus: other exporters of those
    signals are not supported (``none`` — and the values obskit already does — are silent)."""
    out = []
    logs = value_of(env, "OTEL_LOGS_EXPORTER")
    if logs is not None and logs.lower() not in ("none", "console"):
        problem = f"{_EXPORTER_WORDS}; logs are JSON lines on stdout (collect them from there)"
        out.append(Problem("OTEL_LOGS_EXPORTER", logs, problem, "JSON lines on stdout"))
    metrics = value_of(env, "OTEL_METRICS_EXPORTER")
    if metrics is not None and metrics.lower() not in ("none", "prometheus"):
        problem = f"{_EXPORTER_WORDS}; metrics are served for Prometheus to scrape"
        using = "Prometheus /metrics (OBSKIT_METRICS_PORT)"
        out.append(Problem("OTEL_METRICS_EXPORTER", metrics, problem, using))
    return out


def _protocol(env: Env) -> str:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = value_of(env, name)
        if value is not None:
            return value.lower()
    return "http/protobuf"


def endpoint(env: Env, name: str) -> Problem | None:
    """An http(s) URL with a host; a full traces URL without a path, or the other protocol's
    port, is reported but used as given."""
    value = value_of(env, name)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return drop(env, name, "not an http:// or https:// URL with a host",
                    f"{NO_EXPORT} (spans are still made: their ids are in the logs)")  # fmt: skip
    protocol = _protocol(env)
    if (
        name == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        and protocol != "grpc"
        and parts.path in ("", "/")
    ):
        return Problem(name, value, "no path: this variable is the full URL (usually ending in "
                       "/v1/traces); OTEL_EXPORTER_OTLP_ENDPOINT is the base URL",
                       "the endpoint as given")  # fmt: skip
    if protocol == "grpc" and port == _HTTP_PORT:
        return Problem(name, value, "port 4318 is OTLP/HTTP's port but the protocol is grpc "
                       "(OTLP/gRPC listens on 4317)", "the endpoint as given")  # fmt: skip
    if protocol != "grpc" and port == _GRPC_PORT:
        return Problem(name, value, "port 4317 is OTLP/gRPC's port but the protocol is "
                       "http/protobuf (OTLP/HTTP listens on 4318; or set "
                       "OTEL_EXPORTER_OTLP_PROTOCOL=grpc)", "the endpoint as given")  # fmt: skip
    return None


def readable_file(env: Env, name: str, using: str) -> Problem | None:
    """A path to a readable file (certificates, keys)."""
    value = value_of(env, name)
    if value is None or (os.path.isfile(value) and os.access(value, os.R_OK)):
        return None
    return drop(env, name, "no readable file at this path", using)


def timeout(env: Env, name: str) -> Problem | None:
    """A positive number of milliseconds."""
    value = value_of(env, name)
    if value is None:
        return None
    try:
        ms = float(value)
    except ValueError:
        ms = -1.0
    if not (ms > 0 and ms == ms and ms != float("inf")):
        return drop(env, name, "expected a positive number of milliseconds",
                    f"{DEFAULT_TIMEOUT_MS} ms")  # fmt: skip
    if ms < _SHORT_TIMEOUT_MS:
        # Valid, but most likely seconds written for the Python SDK: say so, use it as given.
        return Problem(name, value, f"under {_SHORT_TIMEOUT_MS} ms: the unit is milliseconds "
                       "(OpenTelemetry specification), not seconds", f"{value} ms")  # fmt: skip
    return None


def export_timeout_s(env: Env | None = None) -> float:
    """The OTLP export timeout in **seconds**, from the variables in **milliseconds** (as the
    OpenTelemetry specification says; the Python SDK reads seconds): obskit converts."""
    env = os.environ if env is None else env
    for name in ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"):
        value = value_of(env, name)
        if value is not None:
            try:
                ms = float(value)
            except ValueError:
                continue
            if ms > 0:
                return ms / 1000.0
    return DEFAULT_TIMEOUT_MS / 1000.0
