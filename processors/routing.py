"""Routing a raw record to the per-entity streams it feeds (no faust here)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.cloudevent import SchemaError, entity_keys, parse_event_bytes
from schemas.event import EntityKind, Event

__all__ = ["Routed", "bundle", "header_map", "route_raw", "unbundle"]


@dataclass(frozen=True, slots=True)
class Routed:
    """Where one raw record goes: per-entity records, or one dead-letter record."""

    streams: tuple[tuple[EntityKind, bytes, bytes], ...] = ()  # (kind, key, normalised event)
    deadletter: bytes | None = None
    reason: str | None = None


def header_map(
    headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None,
) -> dict[str, bytes]:
    """Kafka headers as a dict (the last value wins)."""
    if not headers:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(k): bytes(v) if v is not None else b"" for k, v in items}


def _received_at(headers: Mapping[str, bytes], fallback_ms: int) -> int:
    raw = headers.get("received_at")
    if raw:
        try:
            return int(raw)
        except ValueError:
            pass
    return fallback_ms


def _body_for_letter(body: bytes) -> dict[str, str]:
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"bodyBase64": base64.b64encode(body).decode()}


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
    doc: dict[str, Any] = {
        "stage": "processor",
        "reason": reason,
        "detail": detail,
        "field": field,
        "headers": {k: v.decode("utf-8", errors="replace") for k, v in headers.items()},
        "source": dict(source),
        **_body_for_letter(body),
    }
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def route_raw(
    value: bytes | None,
    headers: Mapping[str, bytes],
    *,
    timestamp_ms: int,
    source: Mapping[str, Any],
) -> Routed:
    """Parse a raw CloudEvent and list the per-entity records it becomes.

    A record that does not parse goes to the dead letters with the reason and field, never
    dropped. `timestamp_ms` (the record's Kafka timestamp) stands in for a missing
    `received_at` header.
    """
    body = value or b""
    received_at = _received_at(headers, timestamp_ms)
    try:
        event = parse_event_bytes(body, received_at=received_at)
    except SchemaError as exc:
        reason = "invalid_json" if exc.field == "body" else "invalid_event"
        letter = deadletter_doc(
            reason, exc.reason, body=body, headers=headers, source=source, field=exc.field
        )
        return Routed(deadletter=letter, reason=reason)
    encoded = event.to_json()
    return Routed(
        streams=tuple((kind, entity_id.encode(), encoded) for kind, entity_id in entity_keys(event))
    )


def bundle(encoded: list[bytes]) -> bytes:
    """One per-entity stream record for several normalised events (a JSON array)."""
    return b"[" + b",".join(encoded) + b"]"


def unbundle(value: bytes) -> list[Event]:
    """The events of a per-entity stream record: a JSON array of events, or one event."""
    doc = orjson.loads(value)
    if isinstance(doc, list):
        return [Event.from_dict(item) for item in doc]
    return [Event.from_dict(doc)]
