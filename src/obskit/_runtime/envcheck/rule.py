"""The rule applied: every variable checked, in the order the SDK would trip over them, once
before the SDK is imported (:func:`check_early`) and again at ``init()`` (:func:`check`)."""

from __future__ import annotations

import os

from obskit._runtime.envcheck import exporter as ex
from obskit._runtime.envcheck import lists, sdk
from obskit._runtime.envcheck.problem import Env, Problem, boolean, choice, integer

__all__ = ["check", "check_early", "take_pending"]

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
        boolean(env, "OTEL_SDK_DISABLED"),
        choice(env, "OTEL_TRACES_SAMPLER", sdk.SAMPLERS, "parentbased_always_on"),
        sdk.sampler_arg(env),
        lists.check_propagators(env),
        lists.resource_attributes(env),
        ex.traces_exporter(env),
        sdk.buckets(env),
        ex.signal_exporters(env),
    ]
    protocols = frozenset({"grpc", "http/protobuf"})
    compressions = frozenset({"gzip", "deflate", "none"})
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        found.append(choice(env, name, protocols, "http/protobuf"))
    for prefix in ("OTEL_EXPORTER_OTLP_TRACES_", "OTEL_EXPORTER_OTLP_"):
        found += [
            ex.endpoint(env, prefix + "ENDPOINT"),
            choice(env, prefix + "COMPRESSION", compressions, "none"),
            lists.headers(env, prefix + "HEADERS"),
            ex.timeout(env, prefix + "TIMEOUT"),
            boolean(env, prefix + "INSECURE"),
            ex.readable_file(env, prefix + "CERTIFICATE", "the system's trusted CA certificates"),
            ex.readable_file(env, prefix + "CLIENT_CERTIFICATE", "no client certificate"),
            ex.readable_file(env, prefix + "CLIENT_KEY", "no client key"),
        ]
    found += [
        integer(env, "OTEL_BSP_SCHEDULE_DELAY", "5000", minimum=1),
        integer(env, "OTEL_BSP_MAX_QUEUE_SIZE", "2048", minimum=1),
        integer(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "128", minimum=1),
        integer(env, "OTEL_BSP_EXPORT_TIMEOUT", "30000"),
        sdk.batch_size(env),
    ]
    found += [sdk.span_limit(env, name) for name in sdk.SPAN_LIMITS]
    frameworks = [f"OTEL_PYTHON_{f}_EXCLUDED_URLS" for f in lists.EXCLUDED_URLS_FRAMEWORKS]
    found += [lists.excluded_urls(env, n) for n in ("OTEL_PYTHON_EXCLUDED_URLS", *frameworks)]
    problems: list[Problem] = []
    for item in found:
        if isinstance(item, list):
            problems += item
        elif item is not None:
            problems.append(item)
    return problems
