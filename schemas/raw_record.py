"""The raw topic's record headers: written by the ingress, read by the processors. Pure.

Raw records follow the CloudEvents Kafka protocol binding for headers (`ce_id`, `ce_type`,
`ce_source`, `ce_specversion`, `ce_time`, extensions as `ce_<name>`), plus `received_at`
(the ingress's receive time, epoch ms); the value stays the structured event exactly as
received, so replays see the original.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from functools import lru_cache

from wxcc_stream.schemas.event import Event

__all__ = [
    "RECEIVED_AT",
    "VALUE_CONTENT_TYPE",
    "header_bytes",
    "header_map",
    "raw_headers",
    "received_at_of",
    "rfc3339_ms",
]

VALUE_CONTENT_TYPE = b"application/cloudevents+json; charset=utf-8"
RECEIVED_AT = "received_at"
"""The header holding the ingress's receive time (epoch ms, decimal)."""

_MAX_RFC3339_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_CONTENT_TYPE_HEADER = ("content-type", VALUE_CONTENT_TYPE)


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


def header_bytes(text: str) -> bytes:
    """A header value as bytes, undoing aiohttp's header decoding."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def raw_headers(event: Event, *, received_at: int) -> tuple[tuple[str, bytes], ...]:
    """The headers of a valid event's raw record.

    `ce_time` is the event's `time` attribute when it has one, else its createdTime
    (WxCC puts the event time in `data.createdTime`, not in `time`); it is left out for a
    time RFC 3339 cannot write.
    """
    attribute = event.extensions.get("time")
    ce_time = attribute if isinstance(attribute, str) else rfc3339_ms(event.created_time)
    headers: list[tuple[str, bytes]] = [
        ("ce_specversion", b"1.0"),
        ("ce_id", header_bytes(event.ce_id)),
        ("ce_type", header_bytes(event.type)),
        ("ce_source", header_bytes(event.ce_source)),
        _CONTENT_TYPE_HEADER,
        (RECEIVED_AT, b"%d" % received_at),
    ]
    if ce_time is not None:
        headers.append(("ce_time", header_bytes(ce_time)))
    if event.org_id is not None:
        headers.append(("ce_comciscoorgid", header_bytes(event.org_id)))
    return tuple(headers)


def header_map(
    headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None,
) -> dict[str, bytes]:
    """Kafka headers as a dict (the last value wins)."""
    if not headers:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(k): bytes(v) if v is not None else b"" for k, v in items}


def received_at_of(headers: Mapping[str, bytes], fallback_ms: int) -> int:
    """The receive time a raw record carries; `fallback_ms` (its Kafka timestamp) without."""
    raw = headers.get(RECEIVED_AT)
    if raw:
        try:
            return int(raw)
        except ValueError:
            pass
    return fallback_ms
