"""Routing a raw record to the per-entity streams it feeds (no faust here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from wxcc_stream.schemas.cloudevent import SchemaError, entity_keys, parse_event_bytes
from wxcc_stream.schemas.deadletter import body_fields, deadletter_document
from wxcc_stream.schemas.event import EntityKind, Event
from wxcc_stream.schemas.raw_record import received_at_of

__all__ = ["Routed", "Targets", "bundle", "route_raw", "target_raw", "unbundle"]


@dataclass(frozen=True, slots=True)
class Routed:
    """Where one raw record goes: per-entity records, or one dead-letter record."""

    streams: tuple[tuple[EntityKind, bytes, bytes], ...] = ()  # (kind, key, normalised event)
    deadletter: bytes | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Targets:
    """A raw record parsed: the event and the (kind, entity key) streams it feeds, or one
    dead-letter record. `route_raw` is this with the event already encoded per stream."""

    event: Event | None = None
    streams: tuple[tuple[EntityKind, bytes], ...] = ()
    deadletter: bytes | None = None
    reason: str | None = None


def deadletter_doc(
    reason: str,
    detail: str,
    *,
    body: bytes,
    headers: Mapping[str, bytes],
    source: Mapping[str, Any],
    field: str | None = None,
) -> bytes:
    """The dead-letter record for a raw record: body, reason, headers and where it was read."""
    fields: dict[str, Any] = {
        "field": field,
        "headers": {k: v.decode("utf-8", errors="replace") for k, v in headers.items()},
        "source": dict(source),
        **body_fields(body),
    }
    return deadletter_document(reason, detail, fields)


def target_raw(
    value: bytes | None,
    headers: Mapping[str, bytes],
    *,
    timestamp_ms: int,
    source: Mapping[str, Any],
) -> Targets:
    """Parse a raw CloudEvent and list the per-entity streams it feeds.

    A record that does not parse goes to the dead letters with the reason and field, never
    dropped. `timestamp_ms` (the record's Kafka timestamp) stands in for a missing
    `received_at` header.
    """
    body = value or b""
    received_at = received_at_of(headers, timestamp_ms)
    try:
        event = parse_event_bytes(body, received_at=received_at)
    except SchemaError as exc:
        reason = "invalid_json" if exc.field == "body" else "invalid_event"
        letter = deadletter_doc(
            reason, exc.reason, body=body, headers=headers, source=source, field=exc.field
        )
        return Targets(deadletter=letter, reason=reason)
    return Targets(
        event=event,
        streams=tuple((kind, entity_id.encode()) for kind, entity_id in entity_keys(event)),
    )


def route_raw(
    value: bytes | None,
    headers: Mapping[str, bytes],
    *,
    timestamp_ms: int,
    source: Mapping[str, Any],
) -> Routed:
    """`target_raw`, with the normalised event encoded for each per-entity stream."""
    targets = target_raw(value, headers, timestamp_ms=timestamp_ms, source=source)
    if targets.event is None:
        return Routed(deadletter=targets.deadletter, reason=targets.reason)
    encoded = targets.event.to_json()
    return Routed(streams=tuple((kind, key, encoded) for kind, key in targets.streams))


def shared_partition_count(counts: Iterable[int | None]) -> int | None:
    """The partition count the raw topic and the per-entity streams share, or None.

    A raw record may skip the hop through its entity's stream only if it already sits in
    the partition that stream (and so the entity's table) would put it in: with one count
    everywhere and the same key partitioning that is `murmur2(key) % count`. Any unknown or
    different count, and every record takes the hop.
    """
    seen = set(counts)
    if len(seen) != 1:
        return None
    (count,) = seen
    return count if count else None


def bundle(encoded: list[bytes]) -> bytes:
    """One per-entity stream record for several normalised events (a JSON array)."""
    return b"[" + b",".join(encoded) + b"]"


def unbundle(value: bytes) -> list[Event]:
    """The events of a per-entity stream record: a JSON array of events, or one event."""
    doc = orjson.loads(value)
    if isinstance(doc, list):
        return [Event.from_dict(item) for item in doc]
    return [Event.from_dict(doc)]
