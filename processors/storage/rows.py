"""One held event as a compact JSON row: what an entity log keeps and its table value joins.

`[arrivedMs, createdTime, type, id, source, orgId, receivedAt, data]` plus an object of the
envelope fields that differ from their usual value; what a row leaves out and restores is
in docs/processors.md ("Rows"). Keys are sorted: equal events give equal rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from wxcc_stream.schemas.event import EntityKind, Event, TimeSource

_SORTED = orjson.OPT_SORT_KEYS
_USUAL_EXTENSIONS = {"datacontenttype": "application/json"}
# the data key ingress takes an entity's id from, per type namespace
_ENTITY_KEY = {"agent": (EntityKind.AGENT, "agentId")}
_ENTITY_KEY.update({ns: (EntityKind.TASK, "taskId") for ns in ("task", "capture")})
_KINDS = {kind.value: kind for kind in EntityKind}
_TIME_SOURCES = {source.value: source for source in TimeSource}

Defaults = tuple[str, str | None]
"""(source, orgId) that a log's rows leave out."""
DEFAULT = 0
"""What a row holds in place of a default (neither a source nor an orgId is an int)."""


class RowError(ValueError):
    """A row that does not decode to an event."""


def exact(raw: bytes) -> bytes:
    """`raw` in a buffer of its own size.

    orjson returns its bytes in the buffer it grew while writing (4 KiB and up, however
    short the output), and these rows are kept for hours: a copy is ~10x smaller.
    """
    return b"".join((raw, b""))


def _implied_entity(type_: str, data: Mapping[str, Any]) -> tuple[EntityKind, Any] | None:
    implied = _ENTITY_KEY.get(type_.partition(":")[0])
    if implied is None:
        return None
    kind, key = implied
    return kind, data.get(key)


def encode_row(event: Event, arrived_ms: int, defaults: Defaults) -> bytes:
    """The row of `event`, arrived at `arrived_ms` (processing time), in a log with these
    defaults."""
    # orjson writes dicts only; Event.to_dict() copies both mappings the same way
    data = event.data if type(event.data) is dict else dict(event.data)
    extras: dict[str, Any] = {}
    created = data.get("createdTime")
    if created is None and "createdTime" not in data:
        extras["absent"] = ["createdTime"]
    elif type(created) is int and created == event.created_time:
        data = data.copy()
        del data["createdTime"]
    implied = _ENTITY_KEY.get(event.type.partition(":")[0])
    if (
        implied is None
        or implied[0] is not event.entity_kind
        or data.get(implied[1]) != event.entity_id
    ):
        extras["entityKind"] = event.entity_kind.value
        extras["entityId"] = event.entity_id
    if event.time_source is not TimeSource.CREATED_TIME:
        extras["timeSource"] = event.time_source.value
    if event.reconciled is not False:
        extras["reconciled"] = event.reconciled
    if event.extensions != _USUAL_EXTENSIONS:
        extras["extensions"] = dict(event.extensions)
    row = [
        arrived_ms,
        event.created_time,
        event.type,
        event.ce_id,
        DEFAULT if event.ce_source == defaults[0] else event.ce_source,
        DEFAULT if event.org_id == defaults[1] else event.org_id,
        event.received_at,
        data,
    ]
    if extras:
        row.append(extras)
    return b"".join((orjson.dumps(row, option=_SORTED), b""))  # exact(), inlined: per event


def event_of_row(row: list[Any], defaults: Defaults) -> Event:
    """The event of a row already parsed from JSON (the row itself is not changed)."""
    try:
        _, created_time, type_, ce_id, source, org_id, received_at, data, *rest = row
        if type(source) is int:
            source = defaults[0]
        if type(org_id) is int:
            org_id = defaults[1]
        extras: Mapping[str, Any] = rest[0] if rest else {}
        if "createdTime" not in data and "absent" not in extras:
            data = {**data, "createdTime": created_time}
        if "entityKind" in extras:
            kind, entity_id = _KINDS[extras["entityKind"]], extras["entityId"]
        else:
            implied = _implied_entity(type_, data)
            if implied is None or not isinstance(implied[1], str):
                raise RowError(f"the entity of a {type_!r} row is not given")
            kind, entity_id = implied
        return Event(
            kind,
            entity_id,
            type_,
            created_time,
            ce_id,
            source,
            org_id,
            data,
            _TIME_SOURCES[extras.get("timeSource", "createdTime")],
            received_at,
            extras.get("reconciled", False),
            extras["extensions"] if "extensions" in extras else dict(_USUAL_EXTENSIONS),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RowError(f"not an event row: {exc!r}") from None


def decode_row(row: bytes, defaults: Defaults) -> Event:
    """The event `encode_row` encoded (equal to it, and `to_json()` gives the same bytes)."""
    parsed = orjson.loads(row)
    if not isinstance(parsed, list):
        raise RowError(f"a row is a JSON array, not {type(parsed).__name__}")
    return event_of_row(parsed, defaults)
