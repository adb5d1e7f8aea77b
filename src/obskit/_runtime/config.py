"""Runtime options: keyword argument, then ``OBSKIT_*``/``OTEL_*`` environment, then default.

Every option is resolved once, in :func:`resolve`, into a frozen :class:`Config`.  A bad keyword
argument (code) raises ``ValueError`` naming the option; a bad *variable* follows the configuration
rule of :mod:`obskit._runtime.envcheck` when ``init()`` passes a ``problems`` list: the default
is used and one JSON warning names the variable, its value and the default.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from obskit import conventions
from obskit._runtime.envcheck import Problem

__all__ = ["DEFAULT_REDACT_KEYS", "Config", "resolve"]

DEFAULT_REDACT_KEYS: Final = frozenset(
    {
        "password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "authorization",
        "cookie", "set_cookie", "session", "session_id", "sessionid", "private_key",
        "secret_key", "access_key", "credentials",
    }
)  # fmt: skip

T = TypeVar("T")

_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})


#: A structlog processor: ``(logger, method_name, event_dict) -> event_dict``.  ``logger`` has the
#: line's logger name as ``.name``; raising ``structlog.DropEvent`` drops the line.
LogProcessor = Callable[[Any, str, MutableMapping[str, Any]], MutableMapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Config:
    """The resolved runtime options (see ``docs/runtime.md``)."""

    service_name: str
    service_version: str
    environment: str
    log_level: str
    log_format: str  # "json" or "console" (``auto`` is resolved here)
    access_log: bool
    metrics_port: int
    metrics_addr: str
    excluded_paths: frozenset[str]
    redact_keys: frozenset[str]
    traces: bool
    instrument_frameworks: bool
    instrument_libraries: bool
    shutdown_timeout: float
    #: Regular expressions whose matches in string values are redacted (``redact_patterns``).
    redact_patterns: tuple[str | re.Pattern[str], ...] = ()
    #: The application's own structlog processors, run on every application log line before
    #: redaction and rendering (``log_processors``; an argument only, no variable).
    log_processors: tuple[LogProcessor, ...] = ()
    #: ``gc.collect()`` + ``gc.freeze()`` at the end of ``init()`` and at the ASGI lifespan
    #: startup: the start-up heap leaves the full collections' reach (``gc_freeze``; ``heap.py``).
    gc_freeze: bool = True


def _resource_attributes(env: Mapping[str, str]) -> dict[str, str]:
    """``OTEL_RESOURCE_ATTRIBUTES`` (``k=v,k2=v2``, values percent-decoded) as a dict."""
    from urllib.parse import unquote

    out: dict[str, str] = {}
    for part in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            out[key.strip()] = unquote(value.strip())
    return out


def _bool(option: str, var: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"obskit option {option!r} ({var}): expected true/false, got {value!r}")


def _pick(option: str, var: str, args: Mapping[str, Any], env: Mapping[str, str]) -> Any:
    """The argument if given (not None), else the environment variable, else None."""
    value = args.get(option)
    if value is not None:
        return value
    raw = env.get(var)
    return raw if raw is not None and raw.strip() != "" else None


def _list(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, Iterable):
        return [str(part).strip() for part in value if str(part).strip()]
    raise TypeError(f"expected a list of strings, got {value!r}")


def _normalise_path(path: str) -> str:
    return path.rstrip("/") or "/"


def normalise_key(key: str) -> str:
    """How a redaction key is compared: lower case, ``-`` and ``.`` as ``_``."""
    return key.lower().replace("-", "_").replace(".", "_")


_OPTIONS: Final = (
    "service_name",
    "service_version",
    "environment",
    "log_level",
    "log_format",
    "access_log",
    "metrics_port",
    "metrics_addr",
    "excluded_paths",
    "redact_keys",
    "traces",
    "instrument_frameworks",
    "instrument_libraries",
    "shutdown_timeout",
    "redact_patterns",
    "log_processors",
    "gc_freeze",
)


def resolve(
    args: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    problems: list[Problem] | None = None,
) -> Config:
    """Resolve every option (argument > environment > default).

    With ``problems`` (``init()``), a bad environment value is reported there and the default
    used; without it, or for a bad argument, ``ValueError`` is raised.

    Raises:
        TypeError: an unknown option name.
        ValueError: a bad value, naming the option and its variable.
    """
    env = os.environ if env is None else env

    def bad(option: str, var: str, message: str, default: str) -> None:
        """A bad value: raise for an argument, report a variable (when reporting)."""
        if problems is None or args.get(option) is not None:
            raise ValueError(f"obskit option {option!r} ({var}): {message}")
        problems.append(Problem(var, env.get(var, ""), message, default))

    unknown = sorted(set(args) - set(_OPTIONS))
    if unknown:
        raise TypeError(f"obskit.init(): unknown option(s) {', '.join(unknown)}")
    resource = _resource_attributes(env)

    name = _pick("service_name", "OBSKIT_SERVICE_NAME", args, env)
    if name is None:
        name = env.get("OTEL_SERVICE_NAME") or resource.get("service.name") or "unknown_service"
    version = _pick("service_version", "OBSKIT_SERVICE_VERSION", args, env)
    if version is None:
        version = resource.get("service.version", "")
    environment = _pick("environment", "OBSKIT_ENVIRONMENT", args, env)
    if environment is None:
        environment = resource.get(
            "deployment.environment.name", resource.get("deployment.environment", "")
        )

    level = str(_pick("log_level", "OBSKIT_LOG_LEVEL", args, env) or "INFO").upper()
    if level == "WARN":
        level = "WARNING"
    if level not in _LEVELS:
        bad("log_level", "OBSKIT_LOG_LEVEL", f"unknown level {level!r}", "INFO")
        level = "INFO"

    fmt = str(_pick("log_format", "OBSKIT_LOG_FORMAT", args, env) or "auto").lower()
    if fmt not in ("json", "console", "auto"):
        bad("log_format", "OBSKIT_LOG_FORMAT", f"expected json|console|auto, got {fmt!r}", "auto")
        fmt = "auto"
    if fmt == "auto":
        isatty = getattr(sys.stdout, "isatty", None)
        fmt = "console" if isatty is not None and isatty() else "json"

    def parsed(option: str, var: str, convert: Callable[[Any], T], default: T, what: str) -> T:
        """The option converted, or ``default`` (reported as ``what: <value>``) when it
        does not convert."""
        raw = _pick(option, var, args, env)
        try:
            return default if raw is None else convert(raw)
        except ValueError:
            shown = str(default).lower() if isinstance(default, bool) else f"{default:g}"
            bad(option, var, f"{what} {raw!r}", shown)
            return default

    port = parsed("metrics_port", "OBSKIT_METRICS_PORT", int, 9464, "not a port number:")
    if not 0 <= port <= 65535:
        bad("metrics_port", "OBSKIT_METRICS_PORT", f"out of range: {port}", "9464")
        port = 9464

    raw_paths = _pick("excluded_paths", "OBSKIT_EXCLUDED_PATHS", args, env)
    paths = conventions.DEFAULT_EXCLUDED_PATHS if raw_paths is None else _list(raw_paths)

    raw_keys = _pick("redact_keys", "OBSKIT_REDACT_KEYS", args, env)
    if raw_keys is None:
        keys = set(DEFAULT_REDACT_KEYS)
    elif isinstance(raw_keys, str) and raw_keys.strip().startswith("+"):
        keys = set(DEFAULT_REDACT_KEYS) | set(_list(raw_keys.strip()[1:]))
    else:
        keys = set(_list(raw_keys))

    raw_patterns = _pick("redact_patterns", "OBSKIT_REDACT_PATTERNS", args, env)
    try:
        patterns = _patterns(raw_patterns)
    except ValueError as exc:
        # A typo in one pattern must not switch off the others: keep every valid one.
        bad(
            "redact_patterns",
            "OBSKIT_REDACT_PATTERNS",
            str(exc).split("): ", 1)[-1],
            "the valid patterns",
        )
        patterns = _valid_patterns(raw_patterns)

    def flag(option: str, var: str) -> bool:
        return parsed(
            option, var, lambda raw: _bool(option, var, raw), True, "expected true/false, got"
        )

    traces = flag("traces", "OBSKIT_TRACES")
    sdk_disabled = env.get("OTEL_SDK_DISABLED", "false").strip().lower()
    if sdk_disabled in _TRUE:
        traces = False
    elif sdk_disabled not in _FALSE:
        bad("", "OTEL_SDK_DISABLED", "expected true or false", "false")

    timeout = parsed("shutdown_timeout", "OBSKIT_SHUTDOWN_TIMEOUT", float, 5.0, "not seconds:")

    return Config(
        service_name=str(name),
        service_version=str(version),
        environment=str(environment),
        log_level=level,
        log_format=fmt,
        access_log=flag("access_log", "OBSKIT_ACCESS_LOG"),
        metrics_port=port,
        metrics_addr=str(_pick("metrics_addr", "OBSKIT_METRICS_ADDR", args, env) or "0.0.0.0"),
        excluded_paths=frozenset(_normalise_path(p) for p in paths),
        redact_keys=frozenset(normalise_key(k) for k in keys),
        traces=traces,
        instrument_frameworks=flag("instrument_frameworks", "OBSKIT_INSTRUMENT_FRAMEWORKS"),
        instrument_libraries=flag("instrument_libraries", "OBSKIT_INSTRUMENT_LIBRARIES"),
        shutdown_timeout=timeout,
        redact_patterns=patterns,
        log_processors=_processors(args.get("log_processors")),
        gc_freeze=flag("gc_freeze", "OBSKIT_GC_FREEZE"),
    )


def _processors(value: object) -> tuple[LogProcessor, ...]:
    """``log_processors``: a list of callables (checked here, so a mistake fails at start-up)."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(
            f"obskit option 'log_processors': expected a list of structlog processors, "
            f"got {value!r}"
        )
    items = tuple(value)
    for item in items:
        if not callable(item):
            raise ValueError(
                f"obskit option 'log_processors': {item!r} is not callable (a processor is "
                "called as processor(logger, method_name, event_dict))"
            )
    return items


def _patterns(value: object) -> tuple[str | re.Pattern[str], ...]:
    """``redact_patterns``: a list of regular expressions (argument), or one string of them
    separated by whitespace (``OBSKIT_REDACT_PATTERNS``: write a literal space as ``\\s``);
    each is compiled here so a typo fails at start-up, naming the pattern."""
    if value is None:
        return ()
    items: list[str | re.Pattern[str]] = []
    for item in value.split() if isinstance(value, str) else _iterable(value):
        items.append(item if isinstance(item, re.Pattern) else str(item))
        try:
            re.compile(items[-1])
        except re.error as exc:
            raise ValueError(
                f"obskit option 'redact_patterns' (OBSKIT_REDACT_PATTERNS): "
                f"not a regular expression: {item!r} ({exc})"
            ) from None
    return tuple(items)


def _valid_patterns(value: object) -> tuple[str, ...]:
    """The patterns of an ``OBSKIT_REDACT_PATTERNS`` value that compile (the rest reported)."""
    valid: list[str] = []
    for item in str(value).split():
        try:
            re.compile(item)
        except re.error:
            continue
        valid.append(item)
    return tuple(valid)


def _iterable(value: object) -> Iterable[object]:
    if isinstance(value, Iterable):
        return value
    raise ValueError(f"obskit option 'redact_patterns': expected a list of strings, got {value!r}")
