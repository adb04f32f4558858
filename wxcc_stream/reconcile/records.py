"""Mapped events as raw-topic records, keyed and headed exactly as the ingress writes
them (`schemas.raw_record`), and the semantic identity the job compares. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from wxcc_stream.projections.event_order import semantic_identity
from wxcc_stream.reconcile.job import Identity
from wxcc_stream.schemas.cloudevent import parse_event_bytes
from wxcc_stream.schemas.event import Event
from wxcc_stream.schemas.raw_record import header_bytes, raw_headers


@dataclass(frozen=True, slots=True)
class RawOut:
    """One raw-topic record to publish, and the identity of the event it carries."""

    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    identity: Identity


def identity_of(event: Event) -> Identity:
    """The contract's semantic identity in the event's own entity stream."""
    return semantic_identity(event.entity_kind, event.entity_id, event)


def raw_out(cloud_event: Mapping[str, Any], *, received_at: int) -> RawOut:
    """The raw record of a mapped event: the value is the structured event, validated by
    the same parser the processors use (SchemaError if it would not pass)."""
    value = orjson.dumps(cloud_event)
    event = parse_event_bytes(value, received_at=received_at)
    headers = raw_headers(event, received_at=received_at)
    return RawOut(header_bytes(event.entity_id), value, headers, identity_of(event))
