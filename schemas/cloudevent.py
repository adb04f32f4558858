"""Parse one structured-mode WxCC CloudEvent into the normalised `Event`.

Ingress calls this once per request, so the checks are hand-written (no JSON Schema
validation here); the JSON Schema files in `schemas/json/` describe the same contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from wxcc_stream.schemas.errors import SchemaError
from wxcc_stream.schemas.event import EntityKind, Event, TimeSource
from wxcc_stream.schemas.models import (
    ORG_ATTRIBUTES,
    RECONCILED_ATTRIBUTE,
    REQUIRED_ATTRIBUTES,
    SPECVERSION,
    TIMESTAMP_ATTRIBUTE,
    CloudEventEnvelope,
    epoch_ms,
    required_string,
)

__all__ = ["SchemaError", "decode_json", "entity_keys", "parse_event", "parse_event_bytes"]

# Agent events that also belong to a task's stream when they carry a taskId (a task leg).
_TASK_LEG_TYPES = frozenset({"agent:state_change", "agent:channel_state_change"})
_TASK_NAMESPACES = frozenset({"task", "capture"})
# The envelope attributes that are not extensions (the org attribute that wins is not either).
_NOT_EXTENSIONS = frozenset({*REQUIRED_ATTRIBUTES, "data", RECONCILED_ATTRIBUTE})


def decode_json(body: bytes) -> Any:
    """Decode a request body with orjson; invalid JSON raises SchemaError on `body`."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        where = f"line {err.lineno} column {err.colno} (char {err.pos})"
        raise SchemaError("body", f"invalid JSON at {where}: {err.msg}") from None


def parse_event_bytes(body: bytes, *, received_at: int | None = None) -> Event:
    """Decode and parse one raw webhook body."""
    return parse_event(decode_json(body), received_at=received_at)


def parse_event(raw: Mapping[str, Any], *, received_at: int | None = None) -> Event:
    """Validate one decoded CloudEvent and normalise it; raise SchemaError naming the field.

    `received_at` (epoch ms, from the ingress clock) is kept on the event and is the
    last fallback for its time when neither `data.createdTime` nor `comciscotimestamp`
    is present.
    """
    event = _parse_plain(raw, received_at)
    if event is None:
        event = _parse_enveloped(raw, received_at)
    return event


def _parse_enveloped(raw: Mapping[str, Any], received_at: int | None) -> Event:
    """Through the envelope model: the reference, and the one place that words errors."""
    envelope = CloudEventEnvelope.from_mapping(raw)
    kind, entity_id = _entity(envelope.type, envelope.data)
    created_time, time_source = _event_time(envelope.data, envelope.timestamp, received_at)
    return Event(
        entity_kind=kind,
        entity_id=entity_id,
        type=envelope.type,
        created_time=created_time,
        ce_id=envelope.id,
        ce_source=envelope.source,
        org_id=envelope.org_id,
        data=envelope.data,
        time_source=time_source,
        received_at=received_at,
        reconciled=envelope.reconciled,
        extensions=envelope.extensions,
    )


def _parse_plain(raw: Mapping[str, Any], received_at: int | None) -> Event | None:
    """The same Event as `_parse_enveloped` for an envelope of plain JSON types that the
    envelope model accepts, in one pass and without building the envelope (ingress parses
    every delivery); None for anything else, which then takes the reference path."""
    if type(raw) is not dict:
        return None
    ce_id = raw.get("id")
    source = raw.get("source")
    ce_type = raw.get("type")
    data = raw.get("data")
    specversion = raw.get("specversion")
    if not (
        type(ce_id) is str
        and ce_id
        and type(source) is str
        and source
        and type(ce_type) is str
        and ce_type
        and type(data) is dict
        and type(specversion) is str
        and specversion == SPECVERSION
    ):
        return None
    content_type = raw.get("datacontenttype")
    if content_type is not None and type(content_type) is not str:
        return None
    org_id = org_key = None
    for key in ORG_ATTRIBUTES:
        value = raw.get(key)
        if value is None:
            continue
        if type(value) is not str:
            return None
        if value and org_id is None:
            org_id, org_key = value, key
    stamp = raw.get(TIMESTAMP_ATTRIBUTE)
    timestamp = None
    if stamp is not None:
        try:
            timestamp = epoch_ms(stamp, TIMESTAMP_ATTRIBUTE, allow_string=True)
        except SchemaError:
            return None
    reconciled = raw.get(RECONCILED_ATTRIBUTE)
    if reconciled is not None and type(reconciled) is not bool:
        return None
    extensions = {
        key: value for key, value in raw.items() if key not in _NOT_EXTENSIONS and key != org_key
    }
    data = dict(data)
    # the envelope is valid: what can still fail is in `data`, worded by the same helpers
    kind, entity_id = _entity(ce_type, data)
    created_time, time_source = _event_time(data, timestamp, received_at)
    return Event(
        entity_kind=kind,
        entity_id=entity_id,
        type=ce_type,
        created_time=created_time,
        ce_id=ce_id,
        ce_source=source,
        org_id=org_id,
        data=data,
        time_source=time_source,
        received_at=received_at,
        reconciled=bool(reconciled),
        extensions=extensions,
    )


def entity_keys(event: Event) -> tuple[tuple[EntityKind, str], ...]:
    """The per-entity streams an event feeds: its own entity, plus the task of a task leg."""
    primary = (event.entity_kind, event.entity_id)
    if event.type in _TASK_LEG_TYPES:
        task_id = event.data.get("taskId")
        if isinstance(task_id, str) and task_id and (EntityKind.TASK, task_id) != primary:
            return (primary, (EntityKind.TASK, task_id))
    return (primary,)


def _entity(event_type: str, data: Mapping[str, Any]) -> tuple[EntityKind, str]:
    """The primary entity: agentId for `agent:*`, taskId for `task:*` and `capture:*`."""
    namespace = event_type.partition(":")[0]
    if namespace == "agent":
        return EntityKind.AGENT, required_string(data, "agentId", "data.agentId")
    if namespace in _TASK_NAMESPACES:
        return EntityKind.TASK, required_string(data, "taskId", "data.taskId")
    # Another namespace (v2 has task-message:*, ...): take the id its name suggests,
    # else whichever id the event does carry, so it still reaches a stream.
    candidates = [("agentId", EntityKind.AGENT), ("taskId", EntityKind.TASK)]
    if not event_type.startswith("agent"):
        candidates.reverse()
    for key, kind in candidates:
        value = data.get(key)
        if isinstance(value, str) and value:
            return kind, value
    key = candidates[0][0]
    raise SchemaError(f"data.{key}", "no non-empty agentId or taskId for this event type")


def _event_time(
    data: Mapping[str, Any], timestamp: int | None, received_at: int | None
) -> tuple[int, TimeSource]:
    """createdTime, else comciscotimestamp, else the receive time (the vendor omits some)."""
    if "createdTime" in data:
        return epoch_ms(data["createdTime"], "data.createdTime"), TimeSource.CREATED_TIME
    if timestamp is not None:
        return timestamp, TimeSource.COMCISCOTIMESTAMP
    if received_at is not None:
        return received_at, TimeSource.RECEIVED_AT
    raise SchemaError(
        "data.createdTime", "missing, and no comciscotimestamp or receive time to infer it from"
    )
