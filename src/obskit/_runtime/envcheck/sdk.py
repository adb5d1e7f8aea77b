"""The SDK's own variables: the sampler, the batch span processor, the span limits, and obskit's
histogram buckets.  Left alone, the SDK would raise on most of these (a ``ValueError`` at
import or when the processor is built) or warn in plain text and fall back silently."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final

from obskit._runtime.envcheck.problem import Env, Problem, drop, integer, value_of

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.sampling import Sampler

__all__ = [
    "SAMPLERS",
    "SPAN_LIMITS",
    "batch_size",
    "buckets",
    "sampler",
    "sampler_arg",
    "span_limit",
]

SAMPLERS: Final = frozenset(
    {"always_on", "always_off", "traceidratio", "parentbased_always_on",
     "parentbased_always_off", "parentbased_traceidratio"}
)  # fmt: skip
_RATIO_SAMPLERS: Final = frozenset({"traceidratio", "parentbased_traceidratio"})
SPAN_LIMITS: Final = (
    "OTEL_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT", "OTEL_SPAN_LINK_COUNT_LIMIT",
)  # fmt: skip


def sampler_arg(env: Env) -> Problem | None:
    """``OTEL_TRACES_SAMPLER_ARG`` of a ratio sampler: a number between 0 and 1."""
    sampler = (value_of(env, "OTEL_TRACES_SAMPLER") or "").lower()
    value = value_of(env, "OTEL_TRACES_SAMPLER_ARG")
    if value is None or sampler not in _RATIO_SAMPLERS:
        return None
    try:
        ratio = float(value)
    except ValueError:
        return drop(env, "OTEL_TRACES_SAMPLER_ARG", "not a number", "1.0")
    if not 0.0 <= ratio <= 1.0:
        return drop(env, "OTEL_TRACES_SAMPLER_ARG", "must be between 0 and 1", "1.0")
    return None


def batch_size(env: Env) -> Problem | None:
    """``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` no larger than the queue (after both are checked as
    integers)."""
    queue = int(value_of(env, "OTEL_BSP_MAX_QUEUE_SIZE") or 2048)
    batch = value_of(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
    if batch is not None and int(batch) > queue:
        return drop(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                    f"larger than the queue (OTEL_BSP_MAX_QUEUE_SIZE={queue})", "128")  # fmt: skip
    return None


def span_limit(env: Env, name: str) -> Problem | None:
    """A span limit: an integer, or ``unset``."""
    value = value_of(env, name)
    if value is None or value.lower() == "unset":
        return None
    default = "no limit" if name.endswith("LENGTH_LIMIT") else "128"
    return integer(env, name, default)


def buckets(env: Env) -> Problem | None:
    """``OBSKIT_HTTP_BUCKETS`` (read by ``conventions.buckets()``, shared with the compiler)."""
    from obskit import conventions

    value = value_of(env, conventions.BUCKETS_ENV)
    if value is None:
        return None
    try:
        conventions.buckets()  # reads os.environ
    except ValueError as exc:
        if env is os.environ:
            return drop(env, conventions.BUCKETS_ENV, str(exc), "the default buckets")
    return None


def sampler(env: Env | None = None) -> Sampler:
    """The sampler ``OTEL_TRACES_SAMPLER[_ARG]`` name (after the check), built here so the
    SDK does not warn about a ratio sampler without an argument (the specification's 1.0)."""
    from opentelemetry.sdk.trace import sampling

    env = os.environ if env is None else env
    name = (value_of(env, "OTEL_TRACES_SAMPLER") or "parentbased_always_on").lower()
    if name in _RATIO_SAMPLERS:
        try:
            rate = float(value_of(env, "OTEL_TRACES_SAMPLER_ARG") or 1.0)
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
