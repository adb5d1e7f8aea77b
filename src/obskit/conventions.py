"""Every name that obskit's runtime emits and its compiler and dashboards query.

This module is the single contract between the three halves of obskit:

* the runtime (``obskit.init()``) *emits* these metrics with these labels;
* the SLO compiler (``obskit slo build``) *queries* them and *records* the rules named here;
* the dashboards *read* both.

Nothing else in obskit spells a metric, label or recording-rule name as a string literal, so the
halves cannot drift apart.  The HTTP names follow the OpenTelemetry HTTP semantic conventions in
their Prometheus form (``http.server.request.duration`` → ``http_server_request_duration_seconds``).
"""

from __future__ import annotations

import os
from typing import Final

__all__ = [
    "ACTIVE_REQUESTS",
    "ALERTS_SERIES",
    "ALERT_LABEL_LONG_WINDOW",
    "ALERT_LABEL_SEVERITY",
    "ALERT_LABEL_SHORT_WINDOW",
    "ALERT_LABEL_TIER",
    "ALERT_STATE_FIRING",
    "ALERT_STATE_LABEL",
    "ALERT_STATE_PENDING",
    "BUCKETS_ENV",
    "DEFAULT_BUCKETS",
    "DEFAULT_EXCLUDED_PATHS",
    "EXEMPLAR_TRACE_ID",
    "EXPORT_ERRORS",
    "EXPORT_ERROR_ENCODE",
    "EXPORT_ERROR_EXPORT",
    "HTTP_DURATION",
    "HTTP_DURATION_BUCKET",
    "HTTP_DURATION_COUNT",
    "HTTP_DURATION_SUM",
    "LABEL_ERROR_TYPE",
    "LABEL_EXPORT_ERROR_KIND",
    "LABEL_METHOD",
    "LABEL_OPERATION",
    "LABEL_OUTCOME",
    "LABEL_PROPAGATION_KIND",
    "LABEL_ROUTE",
    "LABEL_SCHEME",
    "LABEL_STATUS",
    "METHOD_OTHER",
    "OPERATION_DURATION",
    "OPERATION_DURATION_BUCKET",
    "OPERATION_DURATION_COUNT",
    "OUTCOME_ERROR",
    "OUTCOME_OK",
    "PROPAGATION_ERRORS",
    "PROPAGATION_KIND_BAGGAGE",
    "PROPAGATION_KIND_TRACEPARENT",
    "PROPAGATION_KIND_TRACESTATE",
    "RULE_BURN_RATE",
    "RULE_ERROR_BUDGET",
    "RULE_ERROR_BUDGET_REMAINING",
    "RULE_OBJECTIVE",
    "RULE_PERIOD_BURN_RATE",
    "RULE_PERIOD_ERROR_RATIO",
    "RULE_PERIOD_SECONDS",
    "RULE_SLI_ERRORS_RATE",
    "RULE_SLI_TOTAL_RATE",
    "SLOTH_LABEL_ID",
    "SLOTH_LABEL_SERVICE",
    "SLOTH_LABEL_SEVERITY",
    "SLOTH_LABEL_SLO",
    "SLOTH_LABEL_WINDOW",
    "SLO_LABEL_ID",
    "SLO_LABEL_SERVICE",
    "SLO_LABEL_SLO",
    "SLO_LABEL_WINDOW",
    "SPANS_DROPPED",
    "SPAN_METHOD_OTHER",
    "STANDARD_METHODS",
    "TARGET_INFO",
    "TARGET_INFO_LABEL_ENVIRONMENT",
    "TARGET_INFO_LABEL_SERVICE",
    "TARGET_INFO_LABEL_VERSION",
    "UNMATCHED_ROUTE",
    "buckets",
    "error_ratio_rule",
    "window_seconds",
]

# --------------------------------------------------------------------------------------------
# Runtime: the HTTP server RED histogram (OpenTelemetry `http.server.request.duration`).
# --------------------------------------------------------------------------------------------

#: Histogram base name, in seconds.  Its ``_count`` series is the request counter.
HTTP_DURATION: Final = "http_server_request_duration_seconds"
HTTP_DURATION_BUCKET: Final = HTTP_DURATION + "_bucket"
HTTP_DURATION_COUNT: Final = HTTP_DURATION + "_count"
HTTP_DURATION_SUM: Final = HTTP_DURATION + "_sum"

#: ``http.request.method``; non-standard methods are recorded as :data:`METHOD_OTHER`.
LABEL_METHOD: Final = "http_request_method"
#: ``http.route``: the route template the framework matched, never the raw path.
LABEL_ROUTE: Final = "http_route"
#: ``http.response.status_code``.
LABEL_STATUS: Final = "http_response_status_code"
#: ``url.scheme`` (only on the active-requests gauge, as OpenTelemetry specifies).
LABEL_SCHEME: Final = "url_scheme"
#: ``error.type`` — kept off the histogram to bound cardinality; used on spans and logs.
LABEL_ERROR_TYPE: Final = "error_type"

#: The value of :data:`LABEL_ROUTE` for every request no route matched (404 scanners, typos):
#: one fixed value, so hostile traffic cannot grow the number of series.
UNMATCHED_ROUTE: Final = "<unmatched>"
#: The value of :data:`LABEL_METHOD` for any method outside :data:`STANDARD_METHODS`.
METHOD_OTHER: Final = "_OTHER"
STANDARD_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
#: The ``{method}`` of a server span's name when ``http.request.method`` is
#: :data:`METHOD_OTHER` (``HTTP`` or ``HTTP {route}``, as the HTTP span conventions say); the
#: method as received is kept in ``http.request.method_original``.
SPAN_METHOD_OTHER: Final = "HTTP"

#: Paths the runtime does not measure by default (probes and the scrape itself).
DEFAULT_EXCLUDED_PATHS: Final = ("/metrics", "/health", "/healthz", "/livez", "/readyz", "/ping")

#: OpenTelemetry's recommended boundaries for ``http.server.request.duration`` (seconds) — the
#: same as prometheus-client's defaults, so no millisecond/second mix-up is possible.
DEFAULT_BUCKETS: Final[tuple[float, ...]] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip

#: Environment variable that overrides the bucket boundaries for both the runtime and the
#: compiler (comma-separated seconds), so a latency SLO is validated against what is emitted.
BUCKETS_ENV: Final = "OBSKIT_HTTP_BUCKETS"


def buckets() -> tuple[float, ...]:
    """Return the histogram bucket boundaries in force.

    ``OBSKIT_HTTP_BUCKETS`` (comma-separated seconds, ascending) overrides
    :data:`DEFAULT_BUCKETS`; the runtime histogram and the compiler's latency-threshold check both
    call this function, so they always agree.

    Raises:
        ValueError: when the variable is set but is not an ascending list of positive numbers.
    """
    raw = os.environ.get(BUCKETS_ENV, "").strip()
    if not raw:
        return DEFAULT_BUCKETS
    try:
        values = tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"{BUCKETS_ENV}={raw!r}: not a comma-separated list of seconds") from exc
    if not values or any(v <= 0 for v in values) or list(values) != sorted(set(values)):
        raise ValueError(f"{BUCKETS_ENV}={raw!r}: boundaries must be positive and ascending")
    return values


#: Gauge of in-flight requests (OpenTelemetry ``http.server.active_requests``).
ACTIVE_REQUESTS: Final = "http_server_active_requests"

#: The exemplar label carrying the 32-hex trace id (Grafana's data-source default).
EXEMPLAR_TRACE_ID: Final = "trace_id"

# --------------------------------------------------------------------------------------------
# Runtime: non-HTTP operations (``obskit.observe``) — same RED shape, its own histogram.
# --------------------------------------------------------------------------------------------

OPERATION_DURATION: Final = "obskit_operation_duration_seconds"
OPERATION_DURATION_BUCKET: Final = OPERATION_DURATION + "_bucket"
OPERATION_DURATION_COUNT: Final = OPERATION_DURATION + "_count"
#: The operation's name as given to ``obskit.observe("name")``.
LABEL_OPERATION: Final = "operation"
#: ``ok`` or ``error`` (an exception escaped the operation).
LABEL_OUTCOME: Final = "outcome"
OUTCOME_OK: Final = "ok"
OUTCOME_ERROR: Final = "error"

# --------------------------------------------------------------------------------------------
# Runtime: service identity and self-monitoring.
# --------------------------------------------------------------------------------------------

#: OpenTelemetry's Prometheus mapping of resource attributes: ``target_info`` (an Info metric).
TARGET_INFO: Final = "target_info"
TARGET_INFO_LABEL_SERVICE: Final = "service_name"
TARGET_INFO_LABEL_VERSION: Final = "service_version"
TARGET_INFO_LABEL_ENVIRONMENT: Final = "deployment_environment_name"

#: Spans the exporter had to drop (queue full, endpoint down).
SPANS_DROPPED: Final = "obskit_otel_spans_dropped_total"

#: Incoming trace headers the propagators rejected (malformed, oversize), by header.
PROPAGATION_ERRORS: Final = "obskit_propagation_errors_total"
LABEL_PROPAGATION_KIND: Final = "kind"
PROPAGATION_KIND_TRACEPARENT: Final = "traceparent"
PROPAGATION_KIND_TRACESTATE: Final = "tracestate"
PROPAGATION_KIND_BAGGAGE: Final = "baggage"

#: Failures in obskit's own span-export path (never network errors: those are
#: ``SPANS_DROPPED``), by kind: ``encode`` (obskit's OTLP encoder failed on a batch, which was
#: then encoded by the official encoder and still sent), ``export`` (the export path raised: the
#: batch was dropped and is counted in ``SPANS_DROPPED`` too).
EXPORT_ERRORS: Final = "obskit_export_errors_total"
LABEL_EXPORT_ERROR_KIND: Final = "kind"
EXPORT_ERROR_ENCODE: Final = "encode"
EXPORT_ERROR_EXPORT: Final = "export"

# --------------------------------------------------------------------------------------------
# Compiler: recording rules and alert labels.  Every recorded series carries SLO_LABEL_SERVICE
# and SLO_LABEL_SLO (plus the spec's own labels), so dashboards select by those two.
# --------------------------------------------------------------------------------------------

SLO_LABEL_SERVICE: Final = "obskit_service"
SLO_LABEL_SLO: Final = "obskit_slo"
#: ``<service>-<slo>``: one value per SLO, handy in tables and links.
SLO_LABEL_ID: Final = "obskit_slo_id"
#: On :data:`RULE_BURN_RATE`: the window the burn rate was measured over (``5m``, ``1h`` …).
SLO_LABEL_WINDOW: Final = "obskit_window"

#: Per-SLO error rate and total rate over 5 minutes: the building blocks of the
#: traffic-weighted period ratio (sum of errors over the period ÷ sum of requests).
RULE_SLI_ERRORS_RATE: Final = "obskit_slo:sli_errors:rate5m"
RULE_SLI_TOTAL_RATE: Final = "obskit_slo:sli_total:rate5m"
#: Error ratio over the whole SLO period (traffic-weighted).
RULE_PERIOD_ERROR_RATIO: Final = "obskit_slo:sli_error:ratio_period"
#: The objective as a ratio (99.9 % → 0.999).
RULE_OBJECTIVE: Final = "obskit_slo:objective:ratio"
#: The error budget as a ratio (1 - objective).
RULE_ERROR_BUDGET: Final = "obskit_slo:error_budget:ratio"
#: Share of the period's error budget still unspent (1 = untouched, 0 = spent, < 0 = overspent).
RULE_ERROR_BUDGET_REMAINING: Final = "obskit_slo:error_budget_remaining:ratio"
#: Burn rate per alert window, one series per window labelled :data:`SLO_LABEL_WINDOW`.
RULE_BURN_RATE: Final = "obskit_slo:burn_rate:ratio"
#: Burn rate over the whole period (1 = exactly on budget).
RULE_PERIOD_BURN_RATE: Final = "obskit_slo:burn_rate:ratio_period"
#: The SLO period in seconds (a constant per SLO, for dashboards and tables).
RULE_PERIOD_SECONDS: Final = "obskit_slo:period:seconds"


def error_ratio_rule(window: str) -> str:
    """Name of the recording rule holding an SLO's error ratio over ``window`` (e.g. ``"1h"``)."""
    return f"obskit_slo:sli_error:ratio_rate{window}"


#: Alert labels: the severity (``page``/``ticket``), the tier's windows, and the tier's name, so
#: an on-call engineer reads which window pair fired straight off the alert.
ALERT_LABEL_SEVERITY: Final = "severity"
ALERT_LABEL_LONG_WINDOW: Final = "long_window"
ALERT_LABEL_SHORT_WINDOW: Final = "short_window"
ALERT_LABEL_TIER: Final = "obskit_tier"

#: Prometheus' own series of active alerts (also in Thanos, Mimir and vmalert's remote write):
#: ``ALERTS{alertname, alertstate, <alert labels>}``.  ``obskit slo status`` and ``gate`` find an
#: SLO's firing tiers here by :data:`SLO_LABEL_SERVICE`, :data:`SLO_LABEL_SLO` and
#: :data:`ALERT_LABEL_TIER` (Sloth-shaped alerts: :data:`SLOTH_LABEL_SEVERITY` and
#: :data:`SLOTH_LABEL_WINDOW`), never by ``alertname`` (Sloth specs keep their own alert names).
ALERTS_SERIES: Final = "ALERTS"
ALERT_STATE_LABEL: Final = "alertstate"
ALERT_STATE_FIRING: Final = "firing"
ALERT_STATE_PENDING: Final = "pending"

#: Sloth's labels, written with ``--alert-shape sloth`` (the default for Sloth input) so that
#: Alertmanager routes and templates written for Sloth keep matching: id, service and SLO on
#: every recorded series, the window on each error-ratio series, the severity on each alert.
SLOTH_LABEL_ID: Final = "sloth_id"
SLOTH_LABEL_SERVICE: Final = "sloth_service"
SLOTH_LABEL_SLO: Final = "sloth_slo"
SLOTH_LABEL_WINDOW: Final = "sloth_window"
SLOTH_LABEL_SEVERITY: Final = "sloth_severity"

_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def window_seconds(window: str) -> int:
    """Seconds in a Prometheus duration of one unit, e.g. ``"5m"`` → 300, ``"30d"`` → 2592000."""
    number, unit = window[:-1], window[-1:]
    if not number.isdigit() or unit not in _UNIT_SECONDS:
        raise ValueError(f"not a simple Prometheus duration: {window!r}")
    return int(number) * _UNIT_SECONDS[unit]
