"""The Kafka records ingress writes: raw events and dead letters. Pure.

The raw records' headers are a wire format the processors read: `schemas.raw_record`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wxcc_stream.ingress.problems import Rejection
from wxcc_stream.schemas.event import Event
from wxcc_stream.schemas.raw_record import header_bytes, raw_headers
from wxcc_stream.schemas.signing import SIGNATURE_HEADER

Headers = tuple[tuple[str, bytes], ...]

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


def raw_record(topic: str, event: Event, value: bytes, *, received_at: int) -> OutRecord:
    """The raw-topic record of a valid event: keyed by its entity id, value as received."""
    headers = raw_headers(event, received_at=received_at)
    return OutRecord(topic, header_bytes(event.entity_id), value, headers)


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
        ("dl_detail", header_bytes(rejection.detail[:_MAX_DETAIL])),
        ("received_at", str(received_at).encode()),
        ("http_path", header_bytes(path)),
    ]
    if rejection.field is not None:
        headers.append(("dl_field", header_bytes(rejection.field)))
    if rejection.event_id is not None:
        headers.append(("ce_id", header_bytes(rejection.event_id)))
    if rejection.event_type is not None:
        headers.append(("ce_type", header_bytes(rejection.event_type)))
    for name, value in request_headers:
        if not withheld(name):
            headers.append(("http_" + name.lower(), header_bytes(value)))
    return OutRecord(topic, None, body, tuple(headers))
