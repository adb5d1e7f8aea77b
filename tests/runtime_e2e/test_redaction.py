"""Secrets sent in headers, bodies and the query string, and logged or set on spans by careless
application code, are redacted in the JSON logs and in the exported spans (every server kind)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.runtime_e2e._secrets import SECRET, post_login
from tests.runtime_e2e._service import Service
from tests.support import OtlpReceiver, new_traceparent, walk_values

pytestmark = pytest.mark.e2e


def _login_records(service: Service, trace_id: str) -> list[dict[str, Any]]:
    return [r for r in service.records() if r.get("trace_id") == trace_id]


def test_secrets_are_redacted_in_log_lines(service: Service) -> None:
    """The app's structlog line (top-level, nested dict, list, headers dict) and stdlib line
    (``extra=``) keep their keys with ``[REDACTED]`` values and their non-secret fields; the
    access line's path has no query string; no line of the request contains a secret."""
    parent = new_traceparent()
    with service.client() as client:
        assert post_login(client, {"traceparent": parent.header}).status_code == 200
    service.access_line(path="/login", trace_id=parent.trace_id)
    records = _login_records(service, parent.trace_id)

    leaked = [r for r in records if any(SECRET in v for v in walk_values(r))]
    assert not leaked, f"secrets in log lines: {leaked}"
    [structlog_line] = [r for r in records if r.get("event") == "login attempt"]
    assert structlog_line["user"] == "alice"
    assert structlog_line["password"] == "[REDACTED]"
    assert structlog_line["payload"]["user"] == "alice"
    assert structlog_line["payload"]["password"] == "[REDACTED]"
    assert structlog_line["payload"]["nested"]["api_key"] == "[REDACTED]"
    assert structlog_line["payload"]["nested"]["items"][0]["token"] == "[REDACTED]"
    headers = {k.lower(): v for k, v in structlog_line["headers"].items()}
    assert headers["authorization"] == headers["cookie"] == headers["x-api-key"] == "[REDACTED]"
    assert headers["content-type"] == "application/json"
    [stdlib_line] = [r for r in records if r.get("event") == "login attempt for alice"]
    assert stdlib_line["password"] == stdlib_line["authorization"] == "[REDACTED]"
    [access] = [r for r in records if r.get("logger") == "obskit.access"]
    assert access["path"] == "/login"


def test_secrets_are_redacted_in_span_attributes(
    service: Service, session_receiver: OtlpReceiver
) -> None:
    """Attributes the app sets on the server span and the instrumentation's own (``url.query``)
    carry no secret: redacted keys are kept, other query parameters survive."""
    parent = new_traceparent()
    with service.client() as client:
        assert post_login(client, {"traceparent": parent.header}).status_code == 200
    [span] = session_receiver.wait_for_trace(parent.trace_id, timeout=15)
    values = [*walk_values(span.attributes), *walk_values(span.resource)]
    values += [v for _, attributes in span.events for v in walk_values(attributes)]
    assert not [v for v in values if SECRET in v], f"secret in span attributes: {span.attributes}"
    assert span.attributes.get("app.login.password") == "[REDACTED]"
    assert span.attributes.get("app.request.header.authorization") == "[REDACTED]"
    assert "page=2" in str(span.attributes.get("url.query")), span.attributes
