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

The checks live by concern: :mod:`.problem` (the :class:`Problem` record and the checks every
variable is made of), :mod:`.lists` (list-valued variables: propagators, resource attributes,
headers, excluded URLs), :mod:`.exporter` (the span exporter's variables), :mod:`.sdk` (sampler,
batch processor, span limits, buckets) and :mod:`.rule` (every check, in order).
"""

from __future__ import annotations

from obskit._runtime.envcheck.exporter import NO_EXPORT, export_timeout_s
from obskit._runtime.envcheck.lists import EXCLUDED_URLS_FRAMEWORKS, check_propagators
from obskit._runtime.envcheck.problem import Problem
from obskit._runtime.envcheck.rule import check, check_early, take_pending
from obskit._runtime.envcheck.sdk import sampler

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
