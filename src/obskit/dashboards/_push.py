"""Pushing dashboards through Grafana's HTTP API (``POST /api/dashboards/db``).

Standard library only (``urllib``), so ``obskit dashboards push`` needs nothing beyond the
package.  Credentials travel in the ``Authorization`` header only and never appear in output:
:func:`describe_auth` is all that is ever printed about them.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

API_PATH: Final = "/api/dashboards/db"


@dataclass(frozen=True)
class Auth:
    """Either a bearer token (service-account token or API key) or basic auth."""

    token: str | None = None
    user: str | None = None
    password: str | None = None

    def header(self) -> str | None:
        """The ``Authorization`` header value, or ``None`` for anonymous access."""
        if self.token:
            return f"Bearer {self.token}"
        if self.user is not None:
            raw = f"{self.user}:{self.password or ''}".encode()
            return "Basic " + base64.b64encode(raw).decode("ascii")
        return None


def describe_auth(auth: Auth) -> str:
    """How the request authenticates, with every secret redacted."""
    if auth.token:
        return "Authorization: Bearer <redacted>"
    if auth.user is not None:
        return f"Authorization: Basic <redacted> (user {auth.user!r})"
    return "no Authorization header (anonymous)"


class PushError(Exception):
    """A dashboard could not be saved; the message says why and what to do."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def payload(dashboard: Mapping[str, Any], folder_uid: str, message: str) -> dict[str, Any]:
    """The body Grafana documents for saving a dashboard, overwriting by uid."""
    body = dict(dashboard)
    # `id` is internal to one Grafana instance: null lets Grafana match on the uid.
    body["id"] = None
    return {"dashboard": body, "folderUid": folder_uid, "message": message, "overwrite": True}


def _grafana_message(raw: bytes) -> str:
    try:
        data = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return raw.decode("utf-8", "replace").strip()[:200]
    if isinstance(data, dict):
        parts = [str(data.get(k)) for k in ("message", "status") if data.get(k)]
        return " / ".join(parts)
    return ""


_HINTS: Final = {
    400: "Grafana rejected the dashboard JSON",
    401: "authentication failed: check --token / GRAFANA_TOKEN (or --user/--password)",
    403: (
        "permission denied: the token's role cannot save dashboards in this folder "
        "(needs Editor on the folder, or the folder uid is wrong)"
    ),
    404: "not found: check --url (the Grafana root URL) and --folder-uid",
    412: (
        "precondition failed: another dashboard in the folder has the same title, or the "
        "dashboard changed on the server (version mismatch); rename it or check the folder"
    ),
}


def push(url: str, body: Mapping[str, Any], auth: Auth, *, timeout: float = 10.0) -> dict[str, Any]:
    """POST one dashboard payload to ``url`` (the Grafana root) and return Grafana's answer.

    Raises:
        PushError: Grafana answered with an error status, or could not be reached.
    """
    endpoint = url.rstrip("/") + API_PATH
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    header = auth.header()
    if header:
        headers["Authorization"] = header
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked by the CLI
        endpoint, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = _grafana_message(exc.read())
        hint = _HINTS.get(exc.code, "Grafana returned an error")
        suffix = f" (Grafana says: {detail})" if detail else ""
        raise PushError(f"HTTP {exc.code}: {hint}{suffix}", status=exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PushError(f"cannot reach Grafana at {url}: {reason}") from None
    try:
        answer = json.loads(raw.decode("utf-8"))
    except ValueError:
        raise PushError(f"unexpected answer from {endpoint}: not JSON") from None
    return answer if isinstance(answer, dict) else {}
