"""Bytes for an `EntityLog`, so it can live in a Faust table and survive restarts.

The held events are embedded as the JSON they were encoded to on arrival (`Held.raw`), so
writing a log costs little more than joining bytes, however long its history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from processors.entity import EntityLog, Held
from processors.errors import ProcessorError
from processors.kinds import KINDS
from schemas.event import EntityKind, Event

FORMAT = 1
"""Version of the encoded layout; bump it (and keep a reader) when the layout changes."""


class LogDecodeError(ProcessorError, ValueError):
    """Bytes that are not an encoded `EntityLog` of a known format."""


def _held(entry: Held) -> list[Any]:
    return [entry.arrived_ms, orjson.Fragment(entry.raw)]


def encode_log(log: EntityLog) -> bytes:
    """Encode a log; `decode_log(encode_log(log)) == log` exactly."""
    spec = KINDS[log.kind]
    return orjson.dumps(
        {
            "format": FORMAT,
            "kind": log.kind.value,
            "entityId": log.entity_id,
            "state": spec.to_dict(log.state),
            "base": spec.to_dict(log.base),
            "history": [_held(h) for h in log.history],
            "buffer": [_held(h) for h in log.buffer],
            "watermark": log.watermark,
            "floor": log.floor,
            "lastArrivalMs": log.last_arrival_ms,
        }
    )


def _unheld(raw: Any) -> Held:
    arrived_ms, event = raw
    # `event` is `Event.to_dict()` output, so dumping it again gives `Event.to_json()` bytes
    encoded = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    return Held(Event.from_dict(event), int(arrived_ms), encoded)


def decode_log(raw: bytes) -> EntityLog:
    """Decode `encode_log` output; raises `LogDecodeError` on anything else."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise LogDecodeError(f"entity log is not JSON: {exc}") from None
    if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, Mapping) else type(doc).__name__
        raise LogDecodeError(f"entity log format {found!r} is not {FORMAT}")
    try:
        kind = EntityKind(doc["kind"])
        spec = KINDS[kind]
        return EntityLog(
            kind=kind,
            entity_id=doc["entityId"],
            state=spec.from_dict(doc["state"]),
            base=spec.from_dict(doc["base"]),
            history=tuple(_unheld(h) for h in doc["history"]),
            buffer=tuple(_unheld(h) for h in doc["buffer"]),
            watermark=doc["watermark"],
            floor=doc["floor"],
            last_arrival_ms=doc["lastArrivalMs"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LogDecodeError(f"entity log is malformed: {exc!r}") from None
