"""What careless application code hands to a log call: its request models and session objects.

Shared by ``hostile_fastapi.py`` and ``hostile_flask.py`` (the services of
``tests/runtime_e2e/test_hostile_tracing.py``): every secret value the test sends ends up in a
dataclass, a pydantic model, an attrs instance and plain objects, logged through structlog and
through the stdlib bridge, and in a span event.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import attrs
import pydantic
from opentelemetry import trace


class LoginBody(pydantic.BaseModel):
    """A FastAPI request body."""

    user: str
    password: str
    api_key: str
    profile: dict[str, Any] = {}


@dataclasses.dataclass
class Credentials:
    user: str
    token: str


@attrs.define
class Account:
    user: str
    secret_key: str


class Session:
    """A plain object with a ``__dict__`` (and a reference to itself)."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self.owner = self


class Hostile:
    """An object whose attribute access raises: logging it must not break the request."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.kind = "hostile"

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no attribute {name} for you")

    @property
    def broken(self) -> str:
        raise RuntimeError("this property always fails")


@dataclasses.dataclass
class Broken:
    """A dataclass one of whose fields cannot be read (its attribute access raises)."""

    user: str
    token_hint: str = "never shown"

    def __getattribute__(self, name: str) -> Any:
        if name == "token_hint":
            raise RuntimeError("read and failed")
        return object.__getattribute__(self, name)


def log_everything(slog: Any, std: logging.Logger, body: LoginBody) -> None:
    """One structlog line and one stdlib line carrying every kind of object; one span event."""
    creds = Credentials(body.user, body.password)
    account = Account(body.user, body.api_key)
    session = Session(body.user, body.password)
    slog.info(
        "login objects",
        body=body,
        creds=creds,
        account=account,
        state=session,
        hostile=Hostile(body.password),
        broken=Broken(body.user),
        nested={"list": [creds, (account,)], "pairs": [("authorization", body.api_key)]},
    )
    std.warning("login objects stdlib", extra={"body": body, "creds": creds, "state": session})
    trace.get_current_span().add_event(
        "login", {"user": body.user, "password": body.password, "app.api_key": body.api_key}
    )
