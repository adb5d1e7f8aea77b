"""The configuration rule for ``OTEL_*`` variables: checked by obskit before the SDK reads them.

**One rule** (``docs/runtime.md``, "Configuration mistakes"): a variable whose value obskit or the
OpenTelemetry SDK cannot use gives *one* JSON ``warning`` line (logger ``obskit.config``, event
``"invalid setting"``) with ``variable``, ``value`` (omitted for secrets: headers),
``problem`` and ``using`` (what is used instead), and the service starts.  obskit never refuses to
start over an observability setting, never prints a traceback or a plain-text line for one, and
never fails at import.

Left alone, the SDK would answer the same mistakes three ways: a plain-text warning then a silent
fallback (sampler, headers — with the secret value in it —, compression, resource attributes), a
``ValueError`` traceback (``OTEL_BSP_*``, span limits, a sampler ratio out of range), or a crash
when ``opentelemetry.propagate`` is imported (unknown ``OTEL_PROPAGATORS`` name).  So
:func:`check` runs first and *cleans* ``os.environ``: a bad value is deleted (the SDK then uses
its default, which is what ``using`` says) or replaced by its valid part (propagators, resource
attributes, headers).  The SDK never sees a value it would complain about.
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.sampling import Sampler

__all__ = [
    "EXCLUDED_URLS_FRAMEWORKS",
    "NO_EXPORT",
    "Problem",
    "check",
    "check_early",
    "check_propagators",
    "export_timeout_s",
    "sampler",
    "take_pending",
]

#: ``using`` of a problem that turns span export off.
NO_EXPORT: Final = "no span export"
#: obskit's export timeout when none is configured (the SDK's 10 s holds the thread too long).
DEFAULT_TIMEOUT_MS: Final = 3000
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})
_SAMPLERS: Final = frozenset(
    {"always_on", "always_off", "traceidratio", "parentbased_always_on",
     "parentbased_always_off", "parentbased_traceidratio"}
)  # fmt: skip
_RATIO_SAMPLERS: Final = frozenset({"traceidratio", "parentbased_traceidratio"})
#: ``OTEL_PYTHON_<FRAMEWORK>_EXCLUDED_URLS`` names the OpenTelemetry instrumentations read.
EXCLUDED_URLS_FRAMEWORKS: Final = ("DJANGO", "FASTAPI", "FLASK", "STARLETTE")
_SPAN_LIMITS: Final = (
    "OTEL_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT", "OTEL_SPAN_LINK_COUNT_LIMIT",
)  # fmt: skip
# W3C Baggage-like ``key=value`` list members, as the SDK's header parser accepts them.
_HEADER_KEY: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_GRPC_PORT: Final = 4317
#: A timeout below this is reported (as given, but probably meant as seconds).
_SHORT_TIMEOUT_MS: Final = 50
_HTTP_PORT: Final = 4318


@dataclass(frozen=True, slots=True)
class Problem:
    """One unusable setting: logged as one JSON warning line by ``init()``."""

    variable: str
    #: The value as set; None for a secret (never logged).
    value: str | None
    problem: str
    using: str

    def fields(self) -> dict[str, str]:
        """The warning line's fields (``value`` only when not secret)."""
        out = {"variable": self.variable}
        if self.value is not None:
            out["value"] = self.value
        out["problem"] = self.problem
        out["using"] = self.using
        return out


Env = MutableMapping[str, str]


def _get(env: Env, name: str) -> str | None:
    raw = env.get(name)
    return raw.strip() if raw is not None and raw.strip() else None


def _drop(env: Env, name: str, problem: str, using: str, *, secret: bool = False) -> Problem:
    value = env.pop(name, "")
    return Problem(name, None if secret else value, problem, using)


def _choice(env: Env, name: str, allowed: frozenset[str], default: str) -> Problem | None:
    value = _get(env, name)
    if value is None or value.lower() in allowed:
        return None
    return _drop(env, name, f"expected one of {', '.join(sorted(allowed))}", default)


def _integer(env: Env, name: str, default: str, *, minimum: int = 0) -> Problem | None:
    value = _get(env, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        return _drop(env, name, "not an integer", default)
    if number < minimum:
        return _drop(env, name, f"must be at least {minimum}", default)
    return None


def _boolean(env: Env, name: str) -> Problem | None:
    value = _get(env, name)
    if value is None or value.lower() in _TRUE | _FALSE:
        return None
    return _drop(env, name, "expected true or false", "false")


# -- lists: the valid members are kept, the variable rewritten with them ----------------------


def check_propagators(env: Env | None = None) -> list[Problem]:
    """``OTEL_PROPAGATORS``: names not installed as ``opentelemetry_propagator`` entry points are
    removed (before ``opentelemetry.propagate`` is imported, which raises on them)."""
    env = os.environ if env is None else env
    value = _get(env, "OTEL_PROPAGATORS")
    if value is None:
        return []
    from importlib.metadata import entry_points

    known = {ep.name for ep in entry_points(group="opentelemetry_propagator")} | {"none"}
    names = [n.strip() for n in value.split(",") if n.strip()]
    bad = [n for n in names if n not in known]
    if not bad:
        return []
    good = [n for n in names if n in known]
    using = ",".join(good) if good else "tracecontext,baggage"
    problem = f"unknown propagator(s) {', '.join(bad)} (installed: {', '.join(sorted(known))})"
    if good:
        env["OTEL_PROPAGATORS"] = using
    else:
        env.pop("OTEL_PROPAGATORS", None)
    return [Problem("OTEL_PROPAGATORS", value, problem, using)]


def _resource_attributes(env: Env) -> Problem | None:
    name = "OTEL_RESOURCE_ATTRIBUTES"
    value = _get(env, name)
    if value is None:
        return None
    good: list[str] = []
    bad: list[str] = []
    for part in value.split(","):
        if not part.strip():
            continue
        key, sep, _ = part.partition("=")
        (good if sep and key.strip() else bad).append(part.strip())
    if not bad:
        return None
    env[name] = ",".join(good)
    if not good:
        env.pop(name)
    return Problem(name, value, f"not key=value: {', '.join(bad)}", ",".join(good) or "none")


def _headers(env: Env, name: str) -> Problem | None:
    """``key=value`` pairs, percent-encoded; the value is secret (never logged)."""
    value = _get(env, name)
    if value is None:
        return None
    good: list[str] = []
    bad = 0
    for part in value.split(","):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        if sep and _HEADER_KEY.fullmatch(unquote(key).strip()):
            good.append(f"{key.strip()}={quote(unquote(val.strip()), safe='')}")
        else:
            bad += 1
    if not bad:
        return None
    keys = ", ".join(g.partition("=")[0] for g in good) or "none"
    if good:
        env[name] = ",".join(good)
    else:
        env.pop(name)
    return Problem(name, None, f"{bad} entr{'y is' if bad == 1 else 'ies are'} not key=value",
                   f"the other headers ({keys})")  # fmt: skip


def _excluded_urls(env: Env, name: str) -> Problem | None:
    value = _get(env, name)
    if value is None:
        return None
    good: list[str] = []
    bad: list[str] = []
    for pattern in (p.strip() for p in value.split(",")):
        try:
            re.compile(pattern)
        except re.error:
            bad.append(pattern)
        else:
            good.append(pattern)
    if not bad:
        return None
    if good:
        env[name] = ",".join(good)
    else:
        env.pop(name)
    return Problem(name, value, f"not a regular expression: {', '.join(bad)}",
                   ",".join(good) or "no excluded URLs")  # fmt: skip


# -- the exporter: endpoint, files, timeout -------------------------------------------------


def _protocol(env: Env) -> str:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = _get(env, name)
        if value is not None:
            return value.lower()
    return "http/protobuf"


def _endpoint(env: Env, name: str) -> Problem | None:
    value = _get(env, name)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return _drop(env, name, "not an http:// or https:// URL with a host",
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


def _file(env: Env, name: str, using: str) -> Problem | None:
    value = _get(env, name)
    if value is None or (os.path.isfile(value) and os.access(value, os.R_OK)):
        return None
    return _drop(env, name, "no readable file at this path", using)


def _timeout(env: Env, name: str) -> Problem | None:
    value = _get(env, name)
    if value is None:
        return None
    try:
        ms = float(value)
    except ValueError:
        ms = -1.0
    if not (ms > 0 and ms == ms and ms != float("inf")):
        return _drop(env, name, "expected a positive number of milliseconds",
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
        value = _get(env, name)
        if value is not None:
            try:
                ms = float(value)
            except ValueError:
                continue
            if ms > 0:
                return ms / 1000.0
    return DEFAULT_TIMEOUT_MS / 1000.0


# -- sampler, batch processor ------------------------------------------------------------------


def _sampler_arg(env: Env) -> Problem | None:
    sampler = (_get(env, "OTEL_TRACES_SAMPLER") or "").lower()
    value = _get(env, "OTEL_TRACES_SAMPLER_ARG")
    if value is None or sampler not in _RATIO_SAMPLERS:
        return None
    try:
        ratio = float(value)
    except ValueError:
        return _drop(env, "OTEL_TRACES_SAMPLER_ARG", "not a number", "1.0")
    if not 0.0 <= ratio <= 1.0:
        return _drop(env, "OTEL_TRACES_SAMPLER_ARG", "must be between 0 and 1", "1.0")
    return None


def _batch_size(env: Env) -> Problem | None:
    queue = int(_get(env, "OTEL_BSP_MAX_QUEUE_SIZE") or 2048)
    batch = _get(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
    if batch is not None and int(batch) > queue:
        return _drop(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                     f"larger than the queue (OTEL_BSP_MAX_QUEUE_SIZE={queue})", "128")  # fmt: skip
    return None


_EXPORTER_WORDS: Final = "obskit exports traces only"


def _signal_exporters(env: Env) -> list[Problem]:
    """obskit writes logs to stdout and serves metrics for Prometheus: other exporters of those
    signals are not supported (``none`` — and the values obskit already does — are silent)."""
    out = []
    logs = _get(env, "OTEL_LOGS_EXPORTER")
    if logs is not None and logs.lower() not in ("none", "console"):
        problem = f"{_EXPORTER_WORDS}; logs are JSON lines on stdout (collect them from there)"
        out.append(Problem("OTEL_LOGS_EXPORTER", logs, problem, "JSON lines on stdout"))
    metrics = _get(env, "OTEL_METRICS_EXPORTER")
    if metrics is not None and metrics.lower() not in ("none", "prometheus"):
        problem = f"{_EXPORTER_WORDS}; metrics are served for Prometheus to scrape"
        using = "Prometheus /metrics (OBSKIT_METRICS_PORT)"
        out.append(Problem("OTEL_METRICS_EXPORTER", metrics, problem, using))
    return out


_PENDING: list[Problem] = []
_checked_early = False


def check_early() -> None:
    """:func:`check` once, before the runtime imports the SDK (``opentelemetry.sdk.trace`` reads
    the span limits at import and raises on a bad one); ``init()`` reports what it found."""
    global _checked_early
    if not _checked_early:
        _checked_early = True
        _PENDING.extend(check())


def take_pending() -> list[Problem]:
    """The problems :func:`check_early` found and nobody reported yet."""
    found = list(_PENDING)
    _PENDING.clear()
    return found


def check(env: Env | None = None) -> list[Problem]:
    """Check every ``OTEL_*`` variable obskit or the SDK reads; clean ``env`` (default:
    ``os.environ``) so the SDK only sees usable values; return one :class:`Problem` per mistake.

    Idempotent: a second call finds nothing (the bad values are gone).
    """
    env = os.environ if env is None else env
    found: list[Problem | list[Problem] | None] = [
        _boolean(env, "OTEL_SDK_DISABLED"),
        _choice(env, "OTEL_TRACES_SAMPLER", _SAMPLERS, "parentbased_always_on"),
        _sampler_arg(env),
        check_propagators(env),
        _resource_attributes(env),
        _traces_exporter(env),
        _buckets(env),
        _signal_exporters(env),
    ]
    protocols = frozenset({"grpc", "http/protobuf"})
    compressions = frozenset({"gzip", "deflate", "none"})
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        found.append(_choice(env, name, protocols, "http/protobuf"))
    for prefix in ("OTEL_EXPORTER_OTLP_TRACES_", "OTEL_EXPORTER_OTLP_"):
        found += [
            _endpoint(env, prefix + "ENDPOINT"),
            _choice(env, prefix + "COMPRESSION", compressions, "none"),
            _headers(env, prefix + "HEADERS"),
            _timeout(env, prefix + "TIMEOUT"),
            _boolean(env, prefix + "INSECURE"),
            _file(env, prefix + "CERTIFICATE", "the system's trusted CA certificates"),
            _file(env, prefix + "CLIENT_CERTIFICATE", "no client certificate"),
            _file(env, prefix + "CLIENT_KEY", "no client key"),
        ]
    found += [
        _integer(env, "OTEL_BSP_SCHEDULE_DELAY", "5000", minimum=1),
        _integer(env, "OTEL_BSP_MAX_QUEUE_SIZE", "2048", minimum=1),
        _integer(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "128", minimum=1),
        _integer(env, "OTEL_BSP_EXPORT_TIMEOUT", "30000"),
        _batch_size(env),
    ]
    found += [_span_limit(env, name) for name in _SPAN_LIMITS]
    frameworks = [f"OTEL_PYTHON_{f}_EXCLUDED_URLS" for f in EXCLUDED_URLS_FRAMEWORKS]
    found += [_excluded_urls(env, n) for n in ("OTEL_PYTHON_EXCLUDED_URLS", *frameworks)]
    problems: list[Problem] = []
    for item in found:
        if isinstance(item, list):
            problems += item
        elif item is not None:
            problems.append(item)
    return problems


def _span_limit(env: Env, name: str) -> Problem | None:
    value = _get(env, name)
    if value is None or value.lower() == "unset":
        return None
    default = "no limit" if name.endswith("LENGTH_LIMIT") else "128"
    return _integer(env, name, default)


def _traces_exporter(env: Env) -> Problem | None:
    """``OTEL_TRACES_EXPORTER``: one of otlp/console/none (a list: its first name is used)."""
    name = "OTEL_TRACES_EXPORTER"
    value = _get(env, name)
    if value is None:
        return None
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    allowed = ("otlp", "console", "none")
    if len(names) == 1 and names[0] in allowed:
        return None
    first = next((n for n in names if n in allowed), "otlp")
    env[name] = first
    return Problem(name, value, "expected one of otlp, console, none (one exporter)", first)


def _buckets(env: Env) -> Problem | None:
    """``OBSKIT_HTTP_BUCKETS`` (read by ``conventions.buckets()``, shared with the compiler)."""
    from obskit import conventions

    value = _get(env, conventions.BUCKETS_ENV)
    if value is None:
        return None
    try:
        conventions.buckets()  # reads os.environ
    except ValueError as exc:
        if env is os.environ:
            return _drop(env, conventions.BUCKETS_ENV, str(exc), "the default buckets")
    return None


def sampler(env: Env | None = None) -> Sampler:
    """The sampler ``OTEL_TRACES_SAMPLER[_ARG]`` name (after :func:`check`), built here so the
    SDK does not warn about a ratio sampler without an argument (the specification's 1.0)."""
    from opentelemetry.sdk.trace import sampling

    env = os.environ if env is None else env
    name = (_get(env, "OTEL_TRACES_SAMPLER") or "parentbased_always_on").lower()
    if name in _RATIO_SAMPLERS:
        try:
            rate = float(_get(env, "OTEL_TRACES_SAMPLER_ARG") or 1.0)
        except ValueError:
            rate = 1.0
        rate = min(max(rate, 0.0), 1.0)
        if name == "traceidratio":
            return sampling.TraceIdRatioBased(rate)
        return sampling.ParentBasedTraceIdRatio(rate)
    known: dict[str, Sampler] = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "parentbased_always_off": sampling.DEFAULT_OFF,
    }
    return known.get(name, sampling.DEFAULT_ON)
