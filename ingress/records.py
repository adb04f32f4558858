"""The Kafka records ingress writes: raw events and dead letters. Pure.

Raw records follow the CloudEvents Kafka protocol binding for headers (`ce_id`,
`ce_type`, `ce_source`, `ce_specversion`, `ce_time`, extensions as `ce_<name>`), while
the value stays the structured event exactly as received so replays see the original.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from wxcc_stream.ingress.problems import Rejection
from wxcc_stream.ingress.signature import SIGNATURE_HEADER
from wxcc_stream.schemas.event import Event

Headers = tuple[tuple[str, bytes], ...]

VALUE_CONTENT_TYPE = b"application/cloudevents+json; charset=utf-8"
# Request headers that must never reach Kafka or a log: credentials of any kind.
_WITHHELD_HEADERS = frozenset(
    {
        SIGNATURE_HEADER.lower(),
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
    }
)
_MAX_DETAIL = 1000


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record to produce: topic, key, value and headers (all bytes but the names)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = ()


_MAX_RFC3339_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def rfc3339_ms(epoch_ms: int) -> str | None:
    """An epoch-ms time as RFC 3339 UTC with milliseconds (the CloudEvents `time` form);
    None for a time RFC 3339 cannot write (after the year 9999)."""
    if not 0 <= epoch_ms <= _MAX_RFC3339_MS:
        return None
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{_rfc3339_seconds(seconds)}.{millis:03d}Z"


@lru_cache(maxsize=4096)
def _rfc3339_seconds(seconds: int) -> str:
    # strftime is the costly part, and events of the same second share it
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


_CONTENT_TYPE_HEADER = ("content-type", VALUE_CONTENT_TYPE)


def raw_record(topic: str, event: Event, value: bytes, *, received_at: int) -> OutRecord:
    """The raw-topic record of a valid event: keyed by its entity id, value as received.

    `ce_time` is the event's `time` attribute when it has one, else its createdTime
    (WxCC puts the event time in `data.createdTime`, not in `time`); it is left out for a
    time RFC 3339 cannot write.
    """
    attribute = event.extensions.get("time")
    ce_time = attribute if isinstance(attribute, str) else rfc3339_ms(event.created_time)
    headers: list[tuple[str, bytes]] = [
        ("ce_specversion", b"1.0"),
        ("ce_id", _bytes(event.ce_id)),
        ("ce_type", _bytes(event.type)),
        ("ce_source", _bytes(event.ce_source)),
        _CONTENT_TYPE_HEADER,
        ("received_at", b"%d" % received_at),
    ]
    if ce_time is not None:
        headers.append(("ce_time", _bytes(ce_time)))
    if event.org_id is not None:
        headers.append(("ce_comciscoorgid", _bytes(event.org_id)))
    return OutRecord(topic, _bytes(event.entity_id), value, tuple(headers))


def _bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")  # undoes aiohttp's header decoding
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def withheld(name: str) -> bool:
    """True for request headers that carry credentials (never stored, never logged)."""
    return name.lower() in _WITHHELD_HEADERS


def deadletter_record(
    topic: str,
    body: bytes,
    rejection: Rejection,
    request_headers: Iterable[tuple[str, str]],
    *,
    received_at: int,
    path: str,
) -> OutRecord:
    """The dead-letter record of a refused delivery: the body as received, the reason and
    the request headers (as `http_<name>`) in Kafka headers; signatures are left out."""
    headers: list[tuple[str, bytes]] = [
        ("dl_reason", rejection.reason.value.encode()),
        ("dl_status", str(rejection.status).encode()),
        ("dl_detail", _bytes(rejection.detail[:_MAX_DETAIL])),
        ("received_at", str(received_at).encode()),
        ("http_path", _bytes(path)),
    ]
    if rejection.field is not None:
        headers.append(("dl_field", _bytes(rejection.field)))
    if rejection.event_id is not None:
        headers.append(("ce_id", _bytes(rejection.event_id)))
    if rejection.event_type is not None:
        headers.append(("ce_type", _bytes(rejection.event_type)))
    for name, value in request_headers:
        if not withheld(name):
            headers.append(("http_" + name.lower(), _bytes(value)))
    return OutRecord(topic, None, body, tuple(headers))
