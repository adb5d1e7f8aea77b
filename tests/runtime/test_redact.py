"""The redactor: every structure a log event can carry, URL parameter spellings, the user's
value patterns (``redact_patterns``), and span events/links on export."""

from __future__ import annotations

import dataclasses
import enum
import random
import re
from typing import Any

import attrs
import orjson
import pydantic
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link

from obskit._config import resolve
from obskit._logs import LogPipeline
from obskit._redact import CYCLE, REDACTED, TOO_DEEP, TRUNCATED, TYPE_KEY, Redactor
from obskit._tracing import RedactingExporter


def _redactor(**options: Any) -> Redactor:
    return Redactor.from_config(resolve(options, env={}))


@dataclasses.dataclass
class Card:
    holder: str
    pin_token: str
    note: str = dataclasses.field(default="hidden", repr=False)


@attrs.define
class Key:
    name: str
    private_key: str
    internal: str = attrs.field(default="hidden", repr=False)


class Body(pydantic.BaseModel, extra="allow"):
    user: str
    password: pydantic.SecretStr
    hint: str = pydantic.Field(default="hidden", repr=False)


class Plain:
    def __init__(self) -> None:
        self.user = "u"
        self.secret = "s"
        self._cache = "private"


class Slotted:
    __slots__ = ("token",)

    def __init__(self) -> None:
        self.token = "t"


class Color(enum.Enum):
    RED = 1


def test_objects_become_field_dicts_with_secrets_redacted() -> None:
    """dataclass, attrs and pydantic instances and ``__dict__`` objects render as a dict of the
    fields they show (``repr=False`` and ``_private`` left out) plus ``__type__``; a pydantic
    ``SecretStr`` is redacted whatever its key; extra pydantic fields are redacted by key."""
    body = Body(user="a", password="pw", api_key="k", theme="dark")  # type: ignore[arg-type,call-arg]
    out = _redactor().redact_event(
        {"card": Card("h", "t"), "key": Key("n", "k"), "body": body, "plain": Plain()}
    )
    assert out == {
        "card": {TYPE_KEY: "Card", "holder": "h", "pin_token": REDACTED},
        "key": {TYPE_KEY: "Key", "name": "n", "private_key": REDACTED},
        "body": {TYPE_KEY: "Body", "user": "a", "password": REDACTED, "api_key": REDACTED,
                 "theme": "dark"},
        "plain": {TYPE_KEY: "Plain", "user": "u", "secret": REDACTED},
    }  # fmt: skip


def test_objects_the_renderer_shows_itself_are_left_alone() -> None:
    """Exceptions, enums, classes and slots-only objects are not turned into dicts."""
    exc, slotted = ValueError("x"), Slotted()
    out = _redactor().redact_event({"e": exc, "c": Color.RED, "t": Plain, "s": slotted})
    assert out == {"e": exc, "c": Color.RED, "t": Plain, "s": slotted}


def test_cycles_depth_and_size_are_bounded() -> None:
    """A container met again inside itself is ``[cycle]`` (a shared, non-cyclic one is shown
    twice); nesting past 8 levels is ``[too deep]``; a huge object graph is cut at a node
    budget (``[truncated]``)."""
    loop: dict[str, Any] = {"a": 1}
    loop["self"] = loop
    shared = {"x": 1}
    items: list[Any] = [shared, shared]
    items.append(items)
    deep: list[Any] = []
    cursor = deep
    for _ in range(12):
        cursor.append([])
        cursor = cursor[0]
    wide = [[{"i": i}] for i in range(2000)]
    out = _redactor().redact_event({"loop": loop, "items": items, "deep": deep, "wide": wide})
    assert out["loop"] == {"a": 1, "self": CYCLE}
    assert out["items"] == [{"x": 1}, {"x": 1}, CYCLE]
    assert orjson.dumps(out["deep"]).decode() == "[" * 8 + f'"{TOO_DEEP}"' + "]" * 8
    assert TRUNCATED in out["wide"]
    assert len(orjson.dumps(out["wide"])) < 20_000


def test_hostile_objects_never_fail_the_call() -> None:
    """Attribute access that raises: secret-named fields are not even read, others say
    ``[unreadable: <type>]``, and a class whose very fields cannot be listed shows its name."""
    reads: list[str] = []

    @dataclasses.dataclass
    class Trap:
        user: str
        token: str
        note: str

        def __getattribute__(self, name: str) -> Any:
            if name in ("token", "note"):
                reads.append(name)
                raise RuntimeError(name)
            return object.__getattribute__(self, name)

    class Meta(type):
        def __getattr__(cls, name: str) -> Any:
            raise KeyError(name)

        @property
        def __dataclass_fields__(cls) -> Any:
            raise RuntimeError("no fields")

    class Weird(metaclass=Meta):
        pass

    out = _redactor().redact_event({"trap": Trap("u", "t", "n"), "weird": Weird()})
    assert out["trap"] == {TYPE_KEY: "Trap", "user": "u", "token": REDACTED,
                           "note": "[unreadable: RuntimeError]"}  # fmt: skip
    assert reads == ["note"]
    assert out["weird"] == {TYPE_KEY: "Weird"}


def test_random_nested_values_never_raise_and_always_encode() -> None:
    """Seeded random nesting of every supported kind (cycles included): the walk never raises,
    its result encodes with the renderer's options, and no secret-named value survives."""
    rng = random.Random(8)
    leaves: list[Any] = [1, 2.5, None, True, "text", b"bytes", Color.RED, ValueError("x")]

    def build(depth: int) -> Any:
        if depth > 10 or rng.random() < 0.3:
            return rng.choice(leaves)
        kind = rng.randrange(7)
        if kind == 0:
            return {rng.choice(["a", "password", "b", 3]): build(depth + 1) for _ in range(3)}
        if kind == 1:
            return [build(depth + 1) for _ in range(3)]
        if kind == 2:
            return ("token", "the-secret")
        if kind == 3:
            return Card(build(depth + 1), "the-secret")
        if kind == 4:
            obj = Plain()
            obj.user = build(depth + 1)
            return obj
        if kind == 5:
            cyclic: list[Any] = [build(depth + 1)]
            cyclic.append(cyclic)
            return cyclic
        return {1, 2, 3}

    redactor = _redactor()
    for _ in range(300):
        out = redactor.redact_event({"value": build(0), "password": "the-secret"})
        text = orjson.dumps(out, default=repr, option=orjson.OPT_NON_STR_KEYS)
        assert b"the-secret" not in text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("api%5Fkey=s&page=2", "api%5Fkey=[REDACTED]&page=2"),
        ("api%255Fkey=s", "api%255Fkey=[REDACTED]"),
        ("user[password]=s&x=1", "user[password]=[REDACTED]&x=1"),
        ("user%5Bpassword%5D%5B0%5D=s", "user%5Bpassword%5D%5B0%5D=[REDACTED]"),
        ("a=1;password=s;b=2", "a=1;password=[REDACTED];b=2"),
        ("PassWord=s&X-API-KEY=s", "PassWord=[REDACTED]&X-API-KEY=[REDACTED]"),
        ("access+token=s", "access+token=[REDACTED]"),
        ("token", "token"),
        ("tokens=1&token_count=2&passwordless=1", "tokens=1&token_count=2&passwordless=1"),
    ],
)
def test_query_parameter_spellings(query: str, expected: str) -> None:
    """Parameter names are decoded (percent-escapes, ``+``, brackets) and matched like keys;
    ``&`` and ``;`` both separate parameters; non-secret parameters are untouched."""
    assert _redactor().redact_query(query) == expected


def test_path_parameters() -> None:
    """``;name=value`` path parameters (and a decoded ``?``) are redacted by name."""
    redactor = _redactor()
    assert (
        redactor.redact_path("/a;jsession=1;password=x/b") == "/a;jsession=1;password=[REDACTED]/b"
    )
    assert redactor.redact_path("/a?token=x&b=2") == "/a?token=[REDACTED]&b=2"
    assert redactor.redact_path("/plain/path") == "/plain/path"


def test_user_keys_and_patterns_reach_free_text() -> None:
    """``redact_keys`` adds keys; ``redact_patterns`` redact matches in every string — values at
    any depth, the message, the exception's message and traceback, the query string."""
    cfg = resolve(
        {"redact_keys": "+ssn", "redact_patterns": [r"sk_live_\w+", re.compile(r"(?i)bearer \S+")]},
        env={},
    )
    pipeline = LogPipeline(cfg, Redactor.from_config(cfg))
    try:
        raise RuntimeError("charge failed for sk_live_abc123")
    except RuntimeError as exc:
        line = pipeline.build(
            "error",
            "app",
            {"event": "key sk_live_abc123 used", "exc_info": exc, "ssn": "1",
             "meta": {"note": ["Bearer xyz", "ok"]}},
        )  # fmt: skip
    text = orjson.dumps(line).decode()
    assert "sk_live_abc123" not in text
    assert "xyz" not in text
    assert line["event"] == "key [REDACTED] used"
    assert line["ssn"] == REDACTED
    assert line["meta"] == {"note": [REDACTED, "ok"]}
    assert "[REDACTED]" in line["exception"]["message"]
    redactor = Redactor.from_config(cfg)
    assert redactor.redact_query("q=sk_live_1&page=2") == "q=[REDACTED]&page=2"


def test_patterns_from_the_environment_and_bad_patterns() -> None:
    """``OBSKIT_REDACT_PATTERNS`` is whitespace-separated; a bad regex is a start-up error
    naming the option, the variable and the pattern."""
    cfg = resolve({}, env={"OBSKIT_REDACT_PATTERNS": r"sk_live_\w+  ghp_[A-Za-z0-9]{3,}"})
    assert cfg.redact_patterns == (r"sk_live_\w+", "ghp_[A-Za-z0-9]{3,}")
    with pytest.raises(ValueError, match=r"redact_patterns.*OBSKIT_REDACT_PATTERNS.*'\(unclosed'"):
        resolve({}, env={"OBSKIT_REDACT_PATTERNS": "(unclosed"})


def test_span_events_and_links_are_redacted_on_export() -> None:
    """Event and link attributes follow the span-attribute rule (and the value patterns); the
    event's name, timestamp and dropped-attribute count are kept."""
    memory = InMemorySpanExporter()
    redactor = _redactor(redact_patterns=[r"sk_live_\w+"])
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(memory, redactor, None)))
    tracer = provider.get_tracer("t")
    linked = tracer.start_span("other").get_span_context()
    with tracer.start_as_current_span(
        "s", links=[Link(linked, {"link.token": "t", "peer": "p"})]
    ) as span:
        span.add_event("login", {"password": "pw", "user": "alice", "note": "sk_live_9"})
        span.add_event("plain", {"user": "bob"})
    (exported,) = memory.get_finished_spans()
    login, plain = exported.events
    assert login.name == "login"
    assert dict(login.attributes or {}) == {"password": REDACTED, "user": "alice",
                                            "note": REDACTED}  # fmt: skip
    assert dict(plain.attributes or {}) == {"user": "bob"}
    assert dict(exported.links[0].attributes or {}) == {"link.token": REDACTED, "peer": "p"}
