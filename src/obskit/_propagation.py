"""Incoming trace headers from hostile or broken clients: counted, warned about rarely, never
copied into a log line.

OpenTelemetry's W3C propagators log one plain warning per rejected header, per request, with no
rate limit — and the oversize-``baggage`` warning contains the whole header (secrets included).
:class:`GuardedPropagator` wraps the configured propagator for the middleware's ``extract``: while
it runs, a filter on the propagators' loggers swallows their records and notes which header
(``traceparent``, ``tracestate``, ``baggage``) was rejected.  After the call each rejected kind
adds 1 to ``obskit_propagation_errors_total{kind}`` (once per request, however many records the
propagator wrote) and gives at most one JSON warning per kind per minute per process, naming the
kind and the propagator's reason with every value cut out.  Outside the middleware's ``extract``
(a user's own ``TraceState`` calls) the loggers behave as before.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from time import monotonic
from typing import Final

from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)

from obskit import conventions as c

__all__ = ["WARN_INTERVAL_S", "GuardedPropagator"]

#: At most one warning per kind per this many seconds (per process).
WARN_INTERVAL_S: Final = 60.0
#: The propagators' loggers and the header each one reports on.
_LOGGERS: Final = {
    "opentelemetry.trace.propagation.tracecontext": "",  # traceparent or tracestate: by message
    "opentelemetry.baggage.propagation": c.PROPAGATION_KIND_BAGGAGE,
    "opentelemetry.trace.span": c.PROPAGATION_KIND_TRACESTATE,  # TraceState.from_header
}
_VALUE: Final = re.compile(r"`?%[-#0 +]*\d*(?:\.\d+)?[sdrif]`?")
_log = logging.getLogger("obskit.propagation")


class _Guard(threading.local):
    #: Kinds rejected during the current ``extract`` (None: not inside one).
    kinds: dict[str, str] | None = None


_guard = _Guard()


def _reason(record: logging.LogRecord) -> str:
    """The propagator's message with every interpolated value removed (they carry the header)."""
    return _VALUE.sub("…", str(record.msg)).strip()


class _Swallow(logging.Filter):
    """On the propagators' loggers: inside a guarded ``extract``, note the kind and drop."""

    def filter(self, record: logging.LogRecord) -> bool:
        kinds = _guard.kinds
        if kinds is None:
            return True
        kind = _LOGGERS.get(record.name, c.PROPAGATION_KIND_TRACESTATE)
        if not kind:
            msg = str(record.msg)
            kind = (
                c.PROPAGATION_KIND_TRACESTATE
                if msg.startswith("tracestate")
                else c.PROPAGATION_KIND_TRACEPARENT
            )
        kinds.setdefault(kind, _reason(record))
        return False


_SWALLOW: Final = _Swallow()


def install_filters() -> None:
    """Put the filter on the propagators' loggers (idempotent)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _SWALLOW not in logger.filters:
            logger.addFilter(_SWALLOW)


class GuardedPropagator(TextMapPropagator):
    """The configured propagator, with rejected headers counted and warned about rarely."""

    def __init__(self, inner: TextMapPropagator, count: Callable[[str], None]) -> None:
        self.inner = inner
        self._count = count
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        install_filters()

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        kinds: dict[str, str] = {}
        _guard.kinds = kinds
        try:
            result = self.inner.extract(carrier, context, getter)
        finally:
            _guard.kinds = None
        if kinds:
            self._rejected(kinds)
        return result

    def _rejected(self, kinds: dict[str, str]) -> None:
        now = monotonic()
        for kind, reason in kinds.items():
            self._count(kind)
            with self._lock:
                last = self._last.get(kind)
                if last is not None and now - last < WARN_INTERVAL_S:
                    continue
                self._last[kind] = now
            _log.warning(
                "invalid trace header ignored",
                extra={
                    "header": kind,
                    "reason": reason,
                    "counted_in": f'{c.PROPAGATION_ERRORS}{{{c.LABEL_PROPAGATION_KIND}="{kind}"}}',
                },
            )

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        self.inner.inject(carrier, context, setter)

    @property
    def fields(self) -> set[str]:
        return set(self.inner.fields)
