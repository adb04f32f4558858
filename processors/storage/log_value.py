"""Bytes for an `EntityLog`, so it can live in a Faust table and survive restarts.

Format 2 is written, formats 1 and 2 are read; the layout is in docs/processors.md
("Storage formats"). Bump `FORMAT` (and keep a reader) when the layout changes.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import orjson

from wxcc_stream.processors.core.log import EntityLog, Held, SortKey, hold
from wxcc_stream.processors.errors import ProcessorError
from wxcc_stream.processors.storage.rows import DEFAULT, Defaults, exact
from wxcc_stream.projections.event_order import OTHER_RANK
from wxcc_stream.projections.registry import KINDS, ProjectionKind
from wxcc_stream.schemas.event import EntityKind, Event

FORMAT = 2
"""Version of the encoded layout; bump it (and keep a reader) when the layout changes."""

READABLE = (1, 2)
"""The formats `decode_log` reads."""

_SORTED = orjson.OPT_SORT_KEYS


class LogDecodeError(ProcessorError, ValueError):
    """Bytes that are not an encoded `EntityLog` of a known format."""


def encode_log(log: EntityLog) -> bytes:
    """Encode a log; `decode_log(encode_log(log)) == log` exactly."""
    spec = KINDS[log.kind]
    head: dict[str, Any] = {
        "format": FORMAT,
        "kind": log.kind.value,
        "entityId": log.entity_id,
        "state": spec.to_dict(log.state),
        "watermark": log.watermark,
        "floor": log.floor,
        "lastArrivalMs": log.last_arrival_ms,
        "defaults": log.defaults,
    }
    base = log.base
    # a fold's revision counts its events: revision 0 is the initial projection, and equal
    # revisions tell most states apart before they are compared
    if base is not log.state and (base.revision != log.state.revision or base != log.state):
        head["base"] = None if base.revision == 0 else spec.to_dict(base)
    # one join into a buffer of the exact size (orjson's own would be several times larger)
    return b"".join(
        (
            orjson.dumps(head)[:-1],
            b',"history":[',
            b",".join([h.row for h in log.history]),
            b'],"buffer":[',
            b",".join([h.row for h in log.buffer]),
            b"]}",
        )
    )


def _held(raw: Any, spec: ProjectionKind, defaults: Defaults) -> Held:
    """A format-2 row, parsed: its bytes again (rows are canonical, so the same bytes)."""
    if not isinstance(raw, list) or len(raw) < 8:
        raise TypeError(f"a row is an array of 8 or 9 values, not {raw!r:.80}")
    arrived_ms, created_time, type_, ce_id, source = raw[:5]
    if source == DEFAULT and type(source) is int:
        source = defaults[0]
    # the events are decoded when needed; the shape is checked now, while it can be refused
    if not (
        all(type(v) is int for v in (arrived_ms, created_time))
        and all(isinstance(v, str) for v in (type_, ce_id, source))
        and isinstance(raw[7], dict)
    ):
        raise TypeError(f"not an event row: {raw!r:.120}")
    key: SortKey = (
        created_time,
        spec.ranks.get(type_, OTHER_RANK),
        ce_id,
        sys.intern(source),
    )
    return Held(key, arrived_ms, exact(orjson.dumps(raw, option=_SORTED)), defaults)


def _defaults(raw: Any) -> Defaults:
    source, org_id = raw
    if not isinstance(source, str) or not (org_id is None or isinstance(org_id, str)):
        raise TypeError(f"defaults are [source, orgId], not {raw!r:.80}")
    return (sys.intern(source), org_id)


Rows = tuple[Defaults | None, list[Held], list[Held]]


def _rows(doc: Mapping[str, Any], spec: ProjectionKind) -> Rows:
    if doc["defaults"] is None:
        if doc["history"] or doc["buffer"]:
            raise ValueError("rows without defaults")
        return None, [], []
    defaults = _defaults(doc["defaults"])
    history = [_held(h, spec, defaults) for h in doc["history"]]
    return defaults, history, [_held(h, spec, defaults) for h in doc["buffer"]]


def _rows_v1(doc: Mapping[str, Any], kind: EntityKind) -> Rows:
    """Format 1: held events as `[arrivedMs, Event.to_dict()]`, made rows (the defaults are
    those of the first one, as if it had been the first held)."""
    parts = [[(int(a), Event.from_dict(e)) for a, e in doc[name]] for name in ("history", "buffer")]
    first = next((e for part in parts for _, e in part), None)
    if first is None:
        return None, [], []
    defaults = (sys.intern(first.ce_source), first.org_id)
    history, buffer = ([hold(kind, e, a, defaults) for a, e in part] for part in parts)
    return defaults, history, buffer


def decode_log(raw: bytes) -> EntityLog:
    """Decode `encode_log` output (format 2, or format 1); raises `LogDecodeError` on
    anything else."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise LogDecodeError(f"entity log is not JSON: {exc}") from None
    found = doc.get("format") if isinstance(doc, Mapping) else type(doc).__name__
    if found not in READABLE or isinstance(found, bool):
        raise LogDecodeError(f"entity log format {found!r} is not one of {READABLE}")
    try:
        kind = EntityKind(doc["kind"])
        spec = KINDS[kind]
        entity_id = doc["entityId"]
        state = spec.from_dict(doc["state"])
        if found == 1:
            base = spec.from_dict(doc["base"])
            defaults, history, buffer = _rows_v1(doc, kind)
        else:
            if "base" not in doc:
                base = state
            elif doc["base"] is None:
                base = spec.initial(entity_id)
            else:
                base = spec.from_dict(doc["base"])
            defaults, history, buffer = _rows(doc, spec)
        return EntityLog(
            kind=kind,
            entity_id=entity_id,
            state=state,
            base=base,
            history=tuple(history),
            buffer=tuple(buffer),
            watermark=doc["watermark"],
            floor=doc["floor"],
            last_arrival_ms=doc["lastArrivalMs"],
            defaults=defaults,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LogDecodeError(f"entity log is malformed: {exc!r}") from None
