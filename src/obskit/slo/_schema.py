"""JSON Schema (draft 2020-12) of the native SLO spec, for editors (``obskit slo schema``).

The schema helps while typing (completion, typo warnings); the loader stays the authority and
checks more than a schema can (PromQL parsing, bucket boundaries, duplicate names).  Key lists
come from the loader's own constants, so the two cannot disagree on which keys exist.
"""

from __future__ import annotations

from typing import Any

from obskit import conventions as c
from obskit.slo._native import (
    ALERTING_KEYS,
    SERVICE_KEYS,
    SEVERITY_KEYS,
    SLI_KEYS,
    SLO_KEYS,
)
from obskit.slo._policy import POLICY_KEYS, firing_choices

__all__ = ["native_schema"]

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
_LABEL_NAME_PATTERN = r"^(?!__)(?!obskit_)[a-zA-Z_][a-zA-Z0-9_]*$"
_SAFE_VALUE_PATTERN = r'^[^"`\\\u0000-\u001f\u007f]*$'
_WINDOW_PATTERN = r"\{\{\s*\.window\s*\}\}"


def _object(properties: dict[str, Any], keys: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    del keys  # documents which loader constant the properties mirror (tests compare them)
    return {"type": "object", "properties": properties, "additionalProperties": False, **extra}


def _labels(description: str, *, safe_values: bool = True) -> dict[str, Any]:
    value: dict[str, Any] = {"type": ["string", "number"]}
    if safe_values:
        value = {"anyOf": [{"type": "number"}, {"type": "string", "pattern": _SAFE_VALUE_PATTERN}]}
    return {
        "type": "object",
        "description": description,
        "propertyNames": {"pattern": _LABEL_NAME_PATTERN},
        "additionalProperties": value,
    }


def _query(description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "pattern": _WINDOW_PATTERN,
        "description": description,
    }


def _policy() -> dict[str, Any]:
    share = {"type": "number", "minimum": 0, "maximum": 1}
    return _object(
        {
            "freeze_below": {
                **share,
                "description": "Block releases while less than this share of the error budget "
                "is left (0.1 = 10 %; 0 = once overspent).",
            },
            "warn_below": {
                **share,
                "description": "Warn (never block) while less than this share is left.",
            },
            "freeze_while_firing": {
                "type": "array",
                "minItems": 1,
                "items": {"enum": list(firing_choices())},
                "description": "Block while an alert tier of these severities (or names) fires.",
            },
        },
        POLICY_KEYS,
        minProperties=1,
        description="Error-budget policy evaluated by `obskit slo gate` (docs/slo-spec.md).",
    )


def native_schema() -> dict[str, Any]:
    """The native spec's JSON Schema as a plain dict (``json.dumps`` it to print)."""
    routes = {
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "minLength": 1, "pattern": _SAFE_VALUE_PATTERN},
        "description": "Route templates (e.g. /cart/{id}) to narrow the SLI to.",
    }
    methods = {
        "type": "array",
        "minItems": 1,
        "items": {"enum": sorted(c.STANDARD_METHODS | {c.METHOD_OTHER})},
        "description": "HTTP methods to narrow the SLI to.",
    }
    group_by = {
        "type": "array",
        "items": {"type": "string", "pattern": _LABEL_NAME_PATTERN},
        "uniqueItems": True,
        "description": "Labels to evaluate the SLO separately for (one SLI, budget and set of "
        "alerts per value combination, e.g. [http_route]); multiplies the recorded series.",
    }
    slis: dict[str, Any] = {
        "availability": _object(
            {
                "routes": routes,
                "methods": methods,
                "errors": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": ["string", "integer"], "pattern": r"^[1-5](xx|\d\d)$"},
                    "description": "Status codes or classes counted as errors (default 5xx).",
                },
                "group_by": group_by,
            },
            SLI_KEYS["availability"],
            description="Share of HTTP requests that did not fail (obskit's HTTP histogram).",
        ),
        "latency": _object(
            {
                "threshold": {
                    "enum": list(c.buckets()),
                    "description": "Seconds; must be a bucket boundary of the HTTP histogram.",
                },
                "routes": routes,
                "methods": methods,
                "successful_only": {
                    "type": "boolean",
                    "description": "Count fast 5xx responses as bad too (default false).",
                },
                "group_by": group_by,
            },
            SLI_KEYS["latency"],
            required=["threshold"],
            description="Share of HTTP requests answered within the threshold.",
        ),
        "operation": _object(
            {
                "name": {"type": "string", "minLength": 1, "pattern": _SAFE_VALUE_PATTERN},
                "group_by": group_by,
            },
            SLI_KEYS["operation"],
            required=["name"],
            description='Share of obskit.observe("name") operations that did not raise.',
        ),
        "ratio": _object(
            {
                "errors": _query("PromQL rate of error events over {{.window}}."),
                "good": _query("PromQL rate of good events over {{.window}}."),
                "total": _query("PromQL rate of all events over {{.window}}."),
                "group_by": group_by,
            },
            SLI_KEYS["ratio"],
            required=["total"],
            oneOf=[{"required": ["errors"]}, {"required": ["good"]}],
            description="Raw PromQL for any metric.",
        ),
    }
    severity = {
        "oneOf": [
            {"type": "boolean"},
            _object(
                {
                    "for": {
                        "anyOf": [
                            {"type": "string", "pattern": r"^(\d+(ms|[smhdwy]))+$|^0$"},
                            {"const": 0},
                        ]
                    },
                    "labels": _labels("Labels on this severity's alerts."),
                    "annotations": _labels(
                        "Annotations on this severity's alerts.", safe_values=False
                    ),
                },
                SEVERITY_KEYS,
            ),
        ],
        "description": "false disables the tier pair; a mapping tunes it.",
    }
    alerting = _object(
        {
            "name": {"type": "string", "minLength": 1, "pattern": _SAFE_VALUE_PATTERN},
            "labels": _labels("Labels on every alert of this SLO."),
            "annotations": _labels("Annotations on every alert of this SLO.", safe_values=False),
            "runbook_url": {"type": "string", "minLength": 1},
            "min_events": {"type": "number", "minimum": 0},
            "page": severity,
            "ticket": severity,
        },
        ALERTING_KEYS,
    )
    slo = _object(
        {
            "name": {"type": "string", "pattern": _NAME_PATTERN},
            "description": {"type": "string"},
            "objective": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100},
            "period": {"type": "string", "pattern": r"^\d+[dw]$", "default": "30d"},
            "labels": _labels("Labels on this SLO's recorded series and alerts."),
            "sli": {
                "type": "object",
                "properties": slis,
                "additionalProperties": False,
                "minProperties": 1,
                "maxProperties": 1,
            },
            "alerting": alerting,
            "policy": _policy(),
        },
        SLO_KEYS,
        required=["name", "objective", "sli"],
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://obskit.invalid/schemas/slo-spec.json",
        "title": "obskit SLO spec",
        "description": "One service and its SLOs; see docs/slo-spec.md.",
        **_object(
            {
                "service": {"type": "string", "pattern": _NAME_PATTERN},
                "labels": _labels("Labels on every recorded series and alert of the service."),
                "selector": _labels("Label matchers selecting the service's series."),
                "policy": _policy(),
                "slos": {"type": "array", "minItems": 1, "items": slo},
            },
            SERVICE_KEYS,
            required=["service", "slos"],
        ),
    }
