"""The secret-laden login request both the redaction and the lifecycle tests send."""

from __future__ import annotations

from typing import Any

import httpx

#: Every secret sent starts with this marker; none may appear anywhere in the output or a span.
SECRET = "s3cr3t"

LOGIN_HEADERS = {
    "Authorization": f"Bearer {SECRET}-header-authorization",
    "Cookie": f"session={SECRET}-header-cookie; theme=dark",
    "X-Api-Key": f"{SECRET}-header-api-key",
}
LOGIN_BODY: dict[str, Any] = {
    "user": "alice",
    "password": f"{SECRET}-body-password",
    "nested": {"api_key": f"{SECRET}-body-nested-api-key", "items": [{"token": f"{SECRET}-tok"}]},
}
LOGIN_QUERY = {"token": f"{SECRET}-query-token", "page": "2"}


def post_login(client: httpx.Client, headers: dict[str, str] | None = None) -> httpx.Response:
    """POST /login with secrets in the query string, the headers and the (nested) JSON body."""
    return client.post(
        "/login", params=LOGIN_QUERY, json=LOGIN_BODY, headers={**LOGIN_HEADERS, **(headers or {})}
    )
