"""A direct OTLP/protobuf writer for span batches (OTLP over HTTP).

The official encoder builds a tree of protobuf message objects for every span, attribute and
value before serialising it: about 27 µs per span on the export thread, and the export thread
shares the GIL with the request path.  This writer emits the same wire bytes straight from the
SDK spans (resource and scope encoded once and cached), several times faster.  Tests parse its
output with the official protobuf classes and compare it, message for message, with the official
encoder's; any value it does not know falls back to the official encoder for the whole batch.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any, Final

from opentelemetry.trace import DEFAULT_TRACE_STATE, SpanKind

from obskit._runtime.tracing.transport import KeepAliveTransport, keepalive_refusal

__all__ = ["encode_request", "make_exporter", "official_request"]

_SPAN_KIND: Final = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5}  # SDK SpanKind value -> OTLP enum
_FLAG_HAS_IS_REMOTE: Final = 0x100
_FLAG_IS_REMOTE: Final = 0x200
_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack
_SMALL: Final = tuple(bytes([i]) for i in range(128))
_pack_tag_varint2 = struct.Struct("BBB").pack
_CACHE_MAX: Final = 4096


class _Unsupported(Exception):
    """A value this writer does not encode: the batch goes to the official encoder."""


def _varint(n: int) -> bytes:
    if n < 128:
        return _SMALL[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(tag: bytes, payload: bytes) -> bytes:
    n = len(payload)
    return tag + (_SMALL[n] if n < 128 else _varint(n)) + payload


def _any_value(value: Any) -> bytes:
    """An ``AnyValue`` payload (a oneof: always written, even for a default value)."""
    if value is None:
        return b""
    if value is True:
        return b"\x10\x01"
    if value is False:
        return b"\x10\x00"
    if isinstance(value, str):
        return _len_field(b"\x0a", value.encode("utf-8"))
    if isinstance(value, int):
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    if isinstance(value, bytes):
        return _len_field(b"\x3a", value)
    if isinstance(value, Sequence):
        items = b"".join(_len_field(b"\x0a", _any_value(v)) for v in value)
        return _len_field(b"\x2a", items)
    if isinstance(value, Mapping):
        kvs = b"".join(_len_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items())
        return _len_field(b"\x32", kvs)
    raise _Unsupported(type(value).__name__)


_keys: dict[str, bytes] = {}


def _key_value(key: str, value: Any) -> bytes:
    encoded = _keys.get(key)
    if encoded is None:
        encoded = _len_field(b"\x0a", key.encode("utf-8"))
        if len(_keys) < _CACHE_MAX:
            _keys[key] = encoded
    return encoded + _len_field(b"\x12", _any_value(value))


#: Attributes whose values repeat (methods, routes, status codes): their whole encoded entry is
#: cached per (tag, key, value).  High-cardinality ones (paths, ids) are never cached.
_REPEATING: Final = frozenset(
    {
        "http.request.method", "http.route", "http.response.status_code", "url.scheme",
        "network.protocol.version", "error.type", "user_agent.original", "client.address",
        "server.address", "server.port", "exception.type",
    }
)  # fmt: skip
#: tag -> key -> value -> the whole encoded entry, for the ``_REPEATING`` keys (str/int values).
_entries: dict[bytes, dict[str, dict[Any, bytes]]] = {}
_entry_count = [0]


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    if not attributes:
        return b""
    # The SDK's BoundedAttributes is a Mapping over a plain dict: iterate the dict directly.
    plain = attributes if type(attributes) is dict else getattr(attributes, "_dict", attributes)
    by_key = _entries.get(tag)
    if by_key is None:
        by_key = _entries[tag] = {key: {} for key in _REPEATING}
    parts: list[bytes] = []
    append = parts.append
    for key, value in plain.items():
        by_value = by_key.get(key)
        kind = type(value)
        if by_value is not None and (kind is str or kind is int):  # not bool: True == 1
            entry = by_value.get(value)
            if entry is None:
                entry = _len_field(tag, _key_value(key, value))
                if _entry_count[0] < _CACHE_MAX:
                    _entry_count[0] += 1
                    by_value[value] = entry
            append(entry)
            continue
        key_field = _keys.get(key)
        if key_field is not None and kind is str:  # a known key, a short string: one step
            data = value.encode("utf-8")
            n = len(data)
            if n < 126:  # the AnyValue (n + 2 bytes) and its length fit one byte each
                pair = key_field + b"\x12" + _SMALL[n + 2] + b"\x0a" + _SMALL[n] + data
            else:
                pair = key_field + _len_field(b"\x12", _len_field(b"\x0a", data))
            m = len(pair)
            append(tag + (_SMALL[m] if m < 128 else _varint(m)) + pair)
        else:
            append(_len_field(tag, _key_value(key, value)))
    return b"".join(parts)


def _trace_state(state: Any) -> bytes:
    if not state:
        return b""
    text = ",".join(f"{k}={v}" for k, v in state.items())
    return _len_field(b"\x1a", text.encode("utf-8")) if text else b""


def _flags(parent: Any) -> int:
    if parent is not None and parent.is_remote:
        return _FLAG_HAS_IS_REMOTE | _FLAG_IS_REMOTE
    return _FLAG_HAS_IS_REMOTE


_names: dict[str, bytes] = {}
_STATUS_UNSET: Final = b"\x7a\x00"


def _plain_span(span: Any) -> bytes:
    """``_span`` for the SDK's own span classes (and obskit's server span): their fields are read
    directly, not through properties that copy (``attributes``, ``events``, ``links``), and the
    ``SpanContext`` tuples are unpacked instead of read through six properties.  A server span
    (the usual case) takes no Python call besides the attribute block's."""
    trace_id, span_id, _, _, trace_state, _ = span._context
    parts = [b"\x0a\x10" + trace_id.to_bytes(16, "big") + b"\x12\x08" + span_id.to_bytes(8, "big")]
    if trace_state is not DEFAULT_TRACE_STATE and trace_state:  # the default: no len() call
        parts.append(_trace_state(trace_state))
    parent = span._parent
    if parent is not None:
        parts.append(b"\x22\x08" + parent[1].to_bytes(8, "big"))
    name = span._name
    if name:
        field = _names.get(name)
        if field is None:
            field = _len_field(b"\x2a", name.encode("utf-8"))
            if len(_names) < _CACHE_MAX:
                _names[name] = field
        parts.append(field)
    kind = span._kind
    # SpanKind hashes through a Python-level __hash__: the server kind is tested by identity.
    parts.append(_SERVER_KIND_FIELD if kind is SpanKind.SERVER else _SPAN_KIND_FIELD[kind])
    if span._start_time:
        parts.append(b"\x39" + _pack_fixed64(span._start_time))
    if span._end_time:
        parts.append(b"\x41" + _pack_fixed64(span._end_time))
    attributes = span._attributes
    if type(attributes) is dict:  # an ended server span's unwrapped map: nothing dropped
        if attributes:
            parts.append(_attributes(b"\x4a", attributes))
    else:
        plain = getattr(attributes, "_dict", attributes)
        if plain:
            parts.append(_attributes(b"\x4a", plain))
        dropped = getattr(attributes, "dropped", 0)
        if dropped:
            parts.append(b"\x50" + _varint(dropped))
    events, links = span._events, span._links  # both read: a renamed field is always noticed
    if events or links:
        parts.append(_events_and_links(span))
    status = span._status
    if status is not None:
        if status is _STATUS_CONSTANTS[0] or (
            not status.description and status.status_code.value == 0
        ):
            parts.append(_STATUS_UNSET)
        else:
            parts.append(_status(status))
    parts.append(_REMOTE_PARENT if parent is not None and parent[2] else _LOCAL_PARENT)
    return b"".join(parts)


def _status(status: Any) -> bytes:
    body = b""
    if status.description:
        body += _len_field(b"\x12", status.description.encode("utf-8"))
    if status.status_code.value:
        body += b"\x18" + _SMALL[status.status_code.value]
    return _len_field(b"\x7a", body)


def _events_and_links(span: Any) -> bytes:
    """Fields 11-14 of a span: events, dropped events, links, dropped links."""
    parts = []
    for event in span.events:
        body = b"".join(
            (
                b"\x09" + _pack_fixed64(event.timestamp) if event.timestamp else b"",
                _len_field(b"\x12", event.name.encode("utf-8")) if event.name else b"",
                _attributes(b"\x1a", event.attributes),
                b"\x20" + _varint(event.dropped_attributes) if event.dropped_attributes else b"",
            )
        )
        parts.append(_len_field(b"\x5a", body))
    if span.dropped_events:
        parts.append(b"\x60" + _varint(span.dropped_events))
    for link in span.links:
        lctx = link.context
        body = b"".join(
            (
                b"\x0a\x10" + lctx.trace_id.to_bytes(16, "big"),
                b"\x12\x08" + lctx.span_id.to_bytes(8, "big"),
                _attributes(b"\x22", link.attributes),
                b"\x28" + _varint(link.dropped_attributes) if link.dropped_attributes else b"",
                b"\x35" + _pack_fixed32(_flags(lctx)),
            )
        )
        parts.append(_len_field(b"\x6a", body))
    if span.dropped_links:
        parts.append(b"\x70" + _varint(span.dropped_links))
    return b"".join(parts)


def _span(span: Any) -> bytes:
    ctx = span.get_span_context()
    parts = [
        b"\x0a\x10" + ctx.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + ctx.span_id.to_bytes(8, "big"),
        _trace_state(ctx.trace_state),
    ]
    parent = span.parent
    if parent is not None:
        parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
    if span.name:
        parts.append(_len_field(b"\x2a", span.name.encode("utf-8")))
    kind = _SPAN_KIND[span.kind.value]
    parts.append(b"\x30" + _SMALL[kind])
    if span.start_time:
        parts.append(b"\x39" + _pack_fixed64(span.start_time))
    if span.end_time:
        parts.append(b"\x41" + _pack_fixed64(span.end_time))
    # The SDK's attribute map itself, not the read-only proxy ``span.attributes`` builds.
    raw = getattr(span, "_attributes", None)
    parts.append(_attributes(b"\x4a", span.attributes if raw is None else raw))
    if span.dropped_attributes:
        parts.append(b"\x50" + _varint(span.dropped_attributes))
    if span.events or span.links:
        parts.append(_events_and_links(span))
    status = span.status
    if status is not None:
        parts.append(_status(status))
    parts.append(b"\x85\x01" + _pack_fixed32(_flags(parent)))
    return b"".join(parts)


#: id(resource or scope) -> (object, its attribute map, encoded bytes); the attribute map is
#: checked too because a fork replaces the resource's map in place (process.pid).
_encoded: dict[int, tuple[Any, Any, bytes]] = {}


def _cached(obj: Any, encode: Any) -> bytes:
    attrs = getattr(obj, "attributes", None)
    hit = _encoded.get(id(obj))
    if hit is not None and hit[0] is obj and hit[1] is attrs:
        return hit[2]
    data: bytes = encode(obj)
    if len(_encoded) < _CACHE_MAX:
        _encoded[id(obj)] = (obj, attrs, data)
    return data


def _resource(resource: Any) -> bytes:
    body = _attributes(b"\x0a", resource.attributes)
    return _len_field(b"\x0a", body)


def _scope(scope: Any) -> bytes:
    if scope is None:
        return b"\x0a\x00"
    body = b""
    if scope.name:
        body += _len_field(b"\x0a", scope.name.encode("utf-8"))
    if scope.version:
        body += _len_field(b"\x12", scope.version.encode("utf-8"))
    body += _attributes(b"\x1a", scope.attributes)
    return _len_field(b"\x0a", body)


_NO_GROUP: Final = object()


def encode_request(spans: Sequence[Any]) -> bytes:
    """A serialised ``ExportTraceServiceRequest`` for ``spans`` (SDK ``ReadableSpan``)."""
    groups: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    plain = _plain_types()
    last_resource: Any = _NO_GROUP
    last_scope: Any = _NO_GROUP
    bucket: list[bytes] = []
    for span in spans:
        if type(span) in plain:
            resource = span._resource
            scope = span._instrumentation_scope or None
            # A server span written when it was queued (``ObskitSpanExporter.pre_encode``).
            encoded = getattr(span, "otlp", None) or _plain_span(span)
        else:
            resource = span.resource
            scope = span.instrumentation_scope or None
            encoded = _span(span)
        if resource is not last_resource or scope is not last_scope:
            entry = groups.get(id(resource))
            if entry is None:
                entry = groups[id(resource)] = (resource, {})
            group = entry[1].get(id(scope))
            if group is None:
                group = entry[1][id(scope)] = (scope, [])
            bucket = group[1]
            last_resource, last_scope = resource, scope
        bucket.append(encoded)
    out = []
    for resource, by_scope in groups.values():
        body = [_cached(resource, _resource)]
        for scope, encoded_spans in by_scope.values():
            scope_body = [_cached(scope, _scope) if scope is not None else b"\x0a\x00"]
            for s in encoded_spans:
                n = len(s)
                if n < 128:
                    scope_body.append(b"\x12" + _SMALL[n])
                elif n < 16384:  # the usual span: a two-byte length
                    scope_body.append(_pack_tag_varint2(0x12, (n & 0x7F) | 0x80, n >> 7))
                else:
                    scope_body.append(b"\x12" + _varint(n))
                scope_body.append(s)
            if scope is not None and scope.schema_url:
                scope_body.append(_len_field(b"\x1a", scope.schema_url.encode("utf-8")))
            body.append(_len_field(b"\x12", b"".join(scope_body)))
        if resource.schema_url:
            body.append(_len_field(b"\x1a", resource.schema_url.encode("utf-8")))
        out.append(_len_field(b"\x0a", b"".join(body)))
    return b"".join(out)


_LOCAL_PARENT: Final = b"\x85\x01" + _pack_fixed32(_FLAG_HAS_IS_REMOTE)
_REMOTE_PARENT: Final = b"\x85\x01" + _pack_fixed32(_FLAG_HAS_IS_REMOTE | _FLAG_IS_REMOTE)
_SPAN_KIND_FIELD: Final = {kind: b"\x30" + _SMALL[_SPAN_KIND[kind.value]] for kind in SpanKind}
_SERVER_KIND_FIELD: Final = _SPAN_KIND_FIELD[SpanKind.SERVER]
#: The server span's shared "unset" status object (set with the plain types).
_STATUS_CONSTANTS: list[Any] = [object()]
_PLAIN: list[frozenset[type]] = []


def _plain_types() -> frozenset[type]:
    """The span classes whose fields ``_plain_span`` reads (imported late: no import cycle)."""
    if not _PLAIN:
        from opentelemetry.sdk import trace as sdk_trace

        # ``_Span`` is the SDK's private concrete span class: without it, those spans take
        # ``_span`` (public properties), still this writer.
        from obskit._runtime.tracing.span import UNSET_STATUS, ServerSpan

        _STATUS_CONSTANTS[0] = UNSET_STATUS
        kinds = (sdk_trace.ReadableSpan, getattr(sdk_trace, "_Span", None), ServerSpan)
        _PLAIN.append(frozenset(k for k in kinds if k is not None))
    return _PLAIN[0]


def official_request(spans: Sequence[Any]) -> bytes:
    """The official encoder's serialised request (the fallback, and the self-test's reference)."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    data: bytes = encode_spans(spans).SerializePartialToString()
    return data


#: The exporter's private parts the direct send uses (``_client.export`` posts the bytes with
#: upstream's retries, compression and headers; ``_metrics.export_operation`` records upstream's
#: own exporter metrics).  Checked when the exporter is made: missing, the upstream ``export``.
SEND_INTERNALS: Final = ("_client", "_metrics", "_shutdown", "_max_request_size")
#: The fields of ``_client.export()``'s result the direct send reads (upstream's own ``export``
#: reads the same two).  Checked on the declared result type when the exporter is made.
RESULT_FIELDS: Final = ("success", "error")


def _result_missing(client: Any) -> str | None:
    """None when ``client.export`` declares a result type with :data:`RESULT_FIELDS`; else
    what is missing (then upstream's ``export`` sends, and reads its own result)."""
    export = getattr(type(client), "export", None)
    declared: Any = getattr(export, "__annotations__", {}).get("return")
    if isinstance(declared, str):  # ``from __future__ import annotations`` upstream
        declared = getattr(export, "__globals__", {}).get(declared)
    if not isinstance(declared, type):
        return "_client.export() result type (undeclared)"
    for field in RESULT_FIELDS:
        if not hasattr(declared, field):
            return f"_client.export() result .{field}"
    return None


def make_exporter(on_encode_error: Any, **kwargs: Any) -> Any:
    """obskit's OTLP/HTTP span exporter (``kwargs``: the official exporter's), see
    :func:`_exporter_class`; typed Any: the class is made late (an optional import)."""
    return _exporter_class()(on_encode_error, **kwargs)


_CLASS: list[type] = []


def _warn_send_moved(exc: BaseException) -> None:
    """One warning, as the self-test's: the exporter's send internals moved."""
    import logging

    from obskit._runtime.internals import SELFTEST_WARNING

    logging.getLogger("obskit").warning(
        SELFTEST_WARNING,
        extra={
            "fast_path": "OTLP send",
            "internal": "opentelemetry-exporter-otlp-proto-http: "
            + ", ".join(f"OTLPSpanExporter.{name}" for name in SEND_INTERNALS)
            + ", the result of OTLPSpanExporter._client.export(): "
            + "/".join(f".{field}" for field in RESULT_FIELDS),
            "error": f"{type(exc).__qualname__}: {exc}",
        },
    )


def _exporter_class() -> type:
    """``ObskitSpanExporter``: the official ``OTLPSpanExporter`` whose batches are encoded by
    :func:`encode_request`.  Only obskit's processor uses it: a user's own ``OTLPSpanExporter``
    is untouched (no module-level patch).

    * ``fast_encode`` (True unless ``obskit._runtime.selftest`` found the encoder's output
      differs from the official encoder's): when False, every batch takes upstream's ``export``;
    * a batch :func:`encode_request` fails on is encoded by the official encoder and still sent;
      ``on_encode_error(exc)`` counts it (``obskit_export_errors_total{kind="encode"}``) and
      warns once — an encoding problem is never reported as a network one;
    * ``send_path`` (the upstream internals of :data:`SEND_INTERNALS`, or None when one is
      missing): None sends through upstream's ``export`` (official encoding again).
    """
    if _CLASS:
        return _CLASS[0]
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    success, failure = SpanExportResult.SUCCESS, SpanExportResult.FAILURE

    class ObskitSpanExporter(OTLPSpanExporter):
        fast_encode = True
        #: Why the last batch failed, when obskit's own path (not the network) failed it.
        own_failure: str | None = None

        def __init__(self, on_encode_error: Any, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.on_encode_error = on_encode_error
            missing = [name for name in SEND_INTERNALS if not hasattr(self, name)]
            limit = getattr(self, "_max_request_size", 0)
            if not missing and type(limit) is not int:
                # Compared with ``len(data)`` on every send: a non-int would fail every batch.
                missing = ["_max_request_size as an int"]
            #: The name of a missing send internal (then upstream's ``export`` sends), or None.
            self.missing_internal = missing[0] if missing else _result_missing(self._client)
            #: obskit's keep-alive transport when it serves this endpoint, else None.
            self.transport: KeepAliveTransport | None = None
            #: Why upstream's ``requests`` transport is kept (None: the keep-alive one is used).
            self.transport_kept: str | None = None
            #: The transport internal found missing (the self-test reports it), or None.
            self.transport_missing: str | None = None
            self._use_keepalive()

        def _use_keepalive(self) -> None:
            """Swap upstream's ``requests`` transport for :class:`KeepAliveTransport` when it
            sends the same request (see ``transport.py``)."""
            client: Any = getattr(self, "_client", None)
            endpoint = getattr(self, "_endpoint", None)
            if client is None or not isinstance(endpoint, str):
                self.transport_missing = "OTLPSpanExporter._endpoint/_client"
            elif not hasattr(client, "_transport"):
                self.transport_missing = "_OTLPHTTPClient._transport"
            if client is None or not isinstance(endpoint, str) or self.transport_missing:
                self.transport_kept = f"{self.transport_missing} is not there"
                return
            self.transport_kept = keepalive_refusal(endpoint)
            if self.transport_kept is None:
                upstream = client._transport
                self.transport = client._transport = KeepAliveTransport()
                close = getattr(upstream, "close", None)
                if close is not None:
                    close()  # its requests.Session (nothing was sent through it)

        def pre_encode(self, span: Any) -> None:
            """Write ``span``'s OTLP message now, in the thread that ended it, when this
            exporter will send it with the writer (``span.otlp``, which ``encode_request``
            takes as it is).  This spreads the encoding over the requests instead of running
            it a whole batch at a time on the export thread, where it held the GIL for a
            millisecond or more per batch and every request arriving meanwhile waited (the
            soak's tail latency).  A span it fails on is left as it was: the batch writes it
            again, and a failure there falls back to the official encoder and is counted."""
            if self.fast_encode and self.missing_internal is None:
                try:  # noqa: SIM105 - on the request path: no context manager's cost
                    span.otlp = _plain_span(span)
                except Exception:  # noqa: S110 - the batch's own encoding handles it
                    pass

        def export(self, spans: Sequence[Any]) -> Any:
            self.own_failure = None
            if self.missing_internal is not None:
                return super().export(spans)  # upstream's whole path (it encodes officially)
            data = None
            if self.fast_encode:
                try:
                    data = encode_request(spans)
                except Exception as exc:  # a value or span shape the writer does not know
                    self.on_encode_error(exc)
            if data is None:  # the official encoder for this batch
                try:
                    data = official_request(spans)
                except Exception as exc:
                    self.own_failure = f"the official OTLP encoder failed: {exc!r}"
                    return failure
            if self._shutdown:
                return super().export(spans)  # upstream's warning and result
            try:
                operation = self._metrics.export_operation(len(spans))
                post = self._client.export
            except AttributeError as exc:  # moved since the self-test: upstream's path from now
                self.missing_internal = str(exc)
                _warn_send_moved(exc)
                return super().export(spans)
            return self._send(operation, post, data)

        def _send(self, operation: Any, post: Any, data: bytes) -> Any:
            """Upstream's ``export`` after its encoding step, with ``data`` as the body."""
            limit = self._max_request_size
            with operation as result:
                if limit > 0 and len(data) > limit:
                    self.own_failure = f"request of {len(data)} bytes over max_request_size"
                    return failure
                sent = post(data)
                try:
                    ok, error = sent.success, sent.error
                except AttributeError as exc:  # the result's shape moved since the self-test
                    # Sent, but whether it was delivered is unknown: obskit's own failure for
                    # this batch (never "endpoint unreachable"); upstream's path from now on.
                    self.missing_internal = str(exc)
                    _warn_send_moved(exc)
                    self.own_failure = f"the send's result could not be read: {exc}"
                    result.error = exc
                    return failure
                if not ok:
                    result.error = error
                    own = self.transport.own_error if self.transport is not None else None
                    if own is not None:  # obskit's transport failed, not the network
                        self.own_failure = f"obskit's OTLP transport failed: {own!r}"
                    return failure
            return success

    _CLASS.append(ObskitSpanExporter)
    return ObskitSpanExporter
