"""A small client of the Prometheus HTTP query API (standard library only).

The same ``/api/v1/query`` endpoint is served by Prometheus, VictoriaMetrics, Thanos Query and
Grafana Mimir; what differs is reached through options:

* a path prefix in the URL (``http://host/prometheus`` for Mimir, a reverse proxy's prefix);
* ``X-Scope-OrgID`` (Mimir, Cortex, Thanos with tenancy) from ``--tenant``;
* credentials from the environment only — :data:`TOKEN_ENV` (bearer) or :data:`USER_ENV` and
  :data:`PASSWORD_ENV` (basic), or ``user:password@`` in the URL — never from a plain flag, and
  never printed: :func:`redact_url` is the only form of the URL in any message;
* extra headers, a timeout, a CA bundle or no TLS verification.

Every failure is one of the :class:`PromError` subclasses, each carrying a message a person can
act on; nothing here raises anything else for a network or server problem.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "PASSWORD_ENV",
    "TOKEN_ENV",
    "URL_ENV",
    "USER_ENV",
    "PromAuthError",
    "PromClient",
    "PromConfigError",
    "PromError",
    "PromResponseError",
    "PromUnreachable",
    "Sample",
    "redact_url",
]

URL_ENV: Final = "OBSKIT_PROMETHEUS_URL"
TOKEN_ENV: Final = "OBSKIT_PROMETHEUS_TOKEN"  # noqa: S105 - a variable name, not a secret
USER_ENV: Final = "OBSKIT_PROMETHEUS_USER"
PASSWORD_ENV: Final = "OBSKIT_PROMETHEUS_PASSWORD"  # noqa: S105 - a variable name
#: Longest error body quoted in a message (an HTML error page is not worth more).
_BODY_QUOTE: Final = 200


class PromError(Exception):
    """A query could not be answered; ``str()`` is the message for the user."""


class PromConfigError(PromError):
    """The client's own options are wrong (not an http(s) URL, an unreadable CA file …)."""


class PromUnreachable(PromError):
    """No HTTP answer at all: refused, unknown host, timeout, TLS failure, or a 502/503/504."""


class PromAuthError(PromError):
    """The server (or a proxy in front of it) answered 401 or 403."""


class PromResponseError(PromError):
    """An answer that is not a successful Prometheus API response (bad query, wrong path…)."""


@dataclass(frozen=True)
class Sample:
    """One series of an instant-vector result: its labels and value (``nan`` kept as NaN)."""

    labels: Mapping[str, str]
    value: float


def redact_url(url: str) -> str:
    """``url`` without user info and query string: the only form that reaches any output."""
    try:
        parts = urllib.parse.urlsplit(url)
        return urllib.parse.urlunsplit((parts.scheme, _netloc(parts), parts.path, "", ""))
    except ValueError:  # e.g. a port that is not a number: say nothing more of it
        return "<invalid URL>"


@dataclass
class PromClient:
    """Instant queries against one Prometheus-compatible server."""

    url: str
    tenant: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    ca_file: str | None = None
    insecure: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def __post_init__(self) -> None:
        try:
            parts = urllib.parse.urlsplit(self.url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            raise PromConfigError(f"--prometheus {redact_url(self.url)}: not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PromConfigError(
                f"--prometheus {redact_url(self.url)!r}: not an http(s) URL (e.g. "
                "http://prometheus:9090 or https://mimir.example.com/prometheus)"
            )
        self._base = urllib.parse.urlunsplit(
            (parts.scheme, _netloc(parts), parts.path.rstrip("/"), "", "")
        )
        self._headers = {"Accept": "application/json", "User-Agent": "obskit-slo-status"}
        self._headers.update(self._auth_header(parts))
        if self.tenant:
            self._headers["X-Scope-OrgID"] = self.tenant
        self._headers.update(self.headers)
        self._context: ssl.SSLContext | None = None
        if parts.scheme == "https":
            try:
                self._context = ssl.create_default_context(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise PromConfigError(f"--ca-file {self.ca_file}: {exc}") from exc
            if self.insecure:
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE

    @property
    def display_url(self) -> str:
        """The server's URL as printed (no credentials)."""
        return redact_url(self.url)

    def _auth_header(self, parts: urllib.parse.SplitResult) -> dict[str, str]:
        token = self.env.get(TOKEN_ENV, "").strip()
        user = self.env.get(USER_ENV, "") or urllib.parse.unquote(parts.username or "")
        password = self.env.get(PASSWORD_ENV, "") or urllib.parse.unquote(parts.password or "")
        if token:
            return {"Authorization": f"Bearer {token}"}
        if user or password:
            pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            return {"Authorization": f"Basic {pair}"}
        return {}

    def query(self, expr: str, at: float) -> list[Sample]:
        """An instant query at Unix time ``at``; the result must be an instant vector."""
        data = self._post("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        if data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            raise PromResponseError(
                f"{self.display_url}: expected a vector for {expr!r}, got "
                f"{str(data.get('resultType'))!r}"
            )
        out: list[Sample] = []
        for item in data["result"]:
            try:
                labels = {str(k): str(v) for k, v in item["metric"].items()}
                out.append(Sample(labels, float(item["value"][1])))
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise PromResponseError(
                    f"{self.display_url}: malformed sample in the answer to {expr!r}"
                ) from exc
        return out

    def _post(self, path: str, form: Mapping[str, str]) -> dict[str, Any]:
        # POST with a form body: accepted by Prometheus, VictoriaMetrics, Thanos and Mimir, and
        # long queries never hit a URL length limit.
        request = urllib.request.Request(  # noqa: S310 - the scheme was checked (http/https)
            self._base + path,
            data=urllib.parse.urlencode(form).encode(),
            headers={**self._headers, "Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        where = self.display_url
        try:
            with urllib.request.urlopen(  # noqa: S310 - http(s) only, checked above
                request, timeout=self.timeout, context=self._context
            ) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
            raise PromUnreachable(f"{where}: cannot connect ({text})") from None
        except TimeoutError:
            raise PromUnreachable(f"{where}: no answer within {self.timeout:g} s") from None
        except OSError as exc:
            raise PromUnreachable(f"{where}: {exc.strerror or exc}") from None
        return self._decode(body, where)

    def _http_error(self, exc: urllib.error.HTTPError) -> PromError:
        where = self.display_url
        detail = _error_detail(exc.read())
        if exc.code in (401, 403):
            given = "credentials were sent" if "Authorization" in self._headers else "none sent"
            return PromAuthError(
                f"{where}: HTTP {exc.code} {exc.reason} ({given}; set {TOKEN_ENV}, or "
                f"{USER_ENV} and {PASSWORD_ENV}, and --tenant for a multi-tenant server)"
                + (f": {detail}" if detail else "")
            )
        if exc.code in (502, 503, 504):
            return PromUnreachable(f"{where}: HTTP {exc.code} {exc.reason}: {detail}")
        hint = ""
        if exc.code == 404:
            hint = " (is the path prefix right? Mimir serves the API under /prometheus)"
        return PromResponseError(f"{where}: HTTP {exc.code} {exc.reason}{hint}: {detail}")

    def _decode(self, body: bytes, where: str) -> dict[str, Any]:
        try:
            payload = json.loads(body)
        except ValueError:
            raise PromResponseError(
                f"{where}: the answer is not JSON, so this is not a Prometheus API (check the "
                f"URL and its path prefix): {body[:_BODY_QUOTE]!r}"
            ) from None
        if not isinstance(payload, dict) or payload.get("status") != "success":
            raise PromResponseError(f"{where}: query failed: {_error_detail(body)}")
        data = payload.get("data")
        if not isinstance(data, dict):
            raise PromResponseError(f"{where}: the answer has no data")
        return data


def _netloc(parts: urllib.parse.SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return host + (f":{parts.port}" if parts.port else "")


def _error_detail(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        return body[:_BODY_QUOTE].decode("utf-8", "replace").strip()
    if isinstance(payload, dict) and payload.get("error"):
        return f"{payload.get('errorType', 'error')}: {payload['error']}"
    return str(payload)[:_BODY_QUOTE]
