"""API records -> the CloudEvents the webhooks would have carried for them. Pure.

Each event gets the fields the webhook of that type carries (VENDOR_FIELDS of the
generator, the vendor's reference), `createdTime` equal to the API's time of the fact, so
that it has the same semantic identity as the webhook it stands for (docs/projections.md)
and is folded once whether or not that webhook arrived. Its `id` is derived from its
content (a UUIDv5 of type, source, org and data), so a second run over the same window
produces the same ids, and `wxccstreamreconciled` marks it as wxcc-stream's own.

A field the API does not give is left out rather than sent as null: the folds take a
present key as the truth (null included), so a null would erase what a webhook said.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from wxcc_stream.projections.task_summary import RECONCILED_TYPE
from wxcc_stream.schemas.models import RECONCILED_ATTRIBUTE

ID_NAMESPACE = uuid.UUID("2f7c1d7e-8d0e-4d55-9a3b-5b0b7e0d2a61")
LOGOUT_STATES = frozenset({"logout", "logged-out", "loggedout"})


@dataclass(frozen=True, slots=True)
class Origin:
    """Whose events these are: the org, and the `source` of its webhook subscription."""

    org_id: str
    source: str  # /com/cisco/wxcc/{subscriptionId}, as the ingress allow-lists it


def epoch_ms(value: Any) -> int | None:
    """A time from the API: a number or a numeric string (the vendor's own sample types
    activity times as strings); None, -1 or 0 (still going / unknown) give None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        ms = int(value)
    except (TypeError, ValueError):
        return None
    return ms if ms > 0 else None


def cloud_event(event_type: str, data: Mapping[str, Any], origin: Origin) -> dict[str, Any]:
    """A structured CloudEvent with a content-derived id and the reconciled marker."""
    content = orjson.dumps(
        [event_type, origin.source, origin.org_id, data], option=orjson.OPT_SORT_KEYS
    )
    return {
        "id": str(uuid.uuid5(ID_NAMESPACE, content.decode())),
        "specversion": "1.0",
        "type": event_type,
        "source": origin.source,
        "comciscoorgid": origin.org_id,
        "datacontenttype": "application/json",
        "data": dict(data),
        RECONCILED_ATTRIBUTE: True,
    }


def _present(fields: Mapping[str, Any], keep_null: Iterable[str] = ()) -> dict[str, Any]:
    kept = set(keep_null)
    return {k: v for k, v in fields.items() if v is not None or k in kept}


STATE_CHANGE_TYPES = frozenset({"agent:state_change", "agent:channel_state_change"})


def activity_event(
    row: Mapping[str, Any], origin: Origin, state_change_type: str = "agent:state_change"
) -> dict[str, Any] | None:
    """The agent event an activity row stands for (None: the row has no usable time).

    `state_change_type`: the type the org's feed uses for state changes (a v2 feed may
    send `agent:channel_state_change`); the identity of a fact includes its type."""
    if state_change_type not in STATE_CHANGE_TYPES:
        raise ValueError(f"not a state change type: {state_change_type!r}")
    start, agent_id = epoch_ms(row.get("startTime")), row.get("agentId")
    if start is None or not agent_id:
        return None
    state = str(row.get("currentState") or "").lower()
    if str(row.get("isLogin")) in ("1", "True", "true"):
        data = _present(
            {
                "agentId": agent_id,
                "destination": row.get("agentDn"),
                "profileType": row.get("mmProfileType"),
                "idleCodeId": row.get("idleCode"),
                "currentState": state or "idle",
                "createdTime": start,
                "teamId": row.get("teamId"),
            }
        )
        return cloud_event("agent:login", data, origin)
    if state in LOGOUT_STATES:
        data = _present(
            {
                "agentId": agent_id,
                "currentState": "logged-out",
                "loggedOutBy": row.get("reason"),
                "createdTime": start,
            }
        )
        return cloud_event("agent:logout", data, origin)
    if not state:
        return None
    fields = {
        "agentId": agent_id,
        "currentState": state,
        "destination": row.get("agentDn"),
        "queueId": row.get("queueId"),
        "taskId": row.get("taskId"),
        "createdTime": start,
        "teamId": row.get("teamId"),
    }
    keep: tuple[str, ...] = ()
    if state == "idle":
        fields["idleCodeId"] = row.get("idleCode")
    elif state == "available":  # clears the idle code, as the webhook's `idleCodeId: null`
        fields["idleCodeId"], keep = None, ("idleCodeId",)
    return cloud_event(state_change_type, _present(fields, keep), origin)


def task_events(record: Mapping[str, Any], origin: Origin) -> list[dict[str, Any]]:
    """task:new at createdTime and, once the task is over, task:ended at endedTime."""
    task_id = record.get("id")
    if not task_id:
        return []
    common = {
        "taskId": task_id,
        "origin": record.get("origin"),
        "destination": record.get("destination"),
        "direction": record.get("direction"),
        "channelType": record.get("channelType"),
    }
    events = []
    created = epoch_ms(record.get("createdTime"))
    if created is not None:
        events.append(cloud_event("task:new", _present({**common, "createdTime": created}), origin))
    ended = epoch_ms(record.get("endedTime"))
    if ended is not None and record.get("isActive") is not True:
        party = record.get("terminatingEnd")
        queue = record.get("lastQueue") or {}
        fields = {
            **common,
            "terminatingParty": str(party).capitalize() if party else None,
            "reason": record.get("terminationReason"),
            "queueId": queue.get("id"),
            "createdTime": ended,
        }
        events.append(cloud_event("task:ended", _present(fields), origin))
    return events


def task_summary_event(
    record: Mapping[str, Any],
    origin: Origin,
    recordings: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any] | None:
    """The authoritative summary (`task:reconciled`) of a final task record, at its end:
    the facts the API knows for certain once the task is over, which override what lost
    webhooks left wrong (docs/projections.md). None while the task is still going.

    Talk and ring times and the terminating party are only given for a task an agent
    took (`lastAgent`): for one abandoned in the queue the API's zeros are not the
    projection's nulls. `recordings` (the captures API's, for this task) become its
    `captures`, so a task compacted before its `capture:available` was injected still
    gets them."""
    task_id, ended = record.get("id"), epoch_ms(record.get("endedTime"))
    if not task_id or ended is None or record.get("isActive") is not False:
        return None
    queue = record.get("lastQueue") or {}
    fields: dict[str, Any] = {
        "taskId": task_id,
        "createdTime": ended,
        "status": "ended",
        "endedTime": ended,
        "queueId": queue.get("id"),
        "holdCount": record.get("holdCount"),
        "holdMs": record.get("holdDuration"),
        "consultCount": record.get("consultCount"),
        "conferenceCount": record.get("conferenceCount"),
        "wrapUpMs": record.get("wrapupDuration"),
    }
    if record.get("lastAgent"):
        party = record.get("terminatingEnd")
        fields |= {
            "ringMs": record.get("ringingDuration"),
            "talkMs": record.get("connectedDuration"),
            "terminatingParty": str(party).capitalize() if party else None,
        }
    paths = sorted({unsigned(str(p)) for p in _recording_paths(recordings)})
    if paths:
        fields["captures"] = paths
    return cloud_event(RECONCILED_TYPE, _present(fields), origin)


def _recording_paths(recordings: Iterable[Mapping[str, Any]]) -> list[Any]:
    paths = ((r.get("attributes") or {}).get("filePath") for r in recordings)
    return [p for p in paths if p]


def unsigned(file_path: str) -> str:
    """A recording URL without its expiring signature (the part that names the file)."""
    return file_path.split("?", 1)[0]


def capture_events(
    task_id: str, recordings: Iterable[Mapping[str, Any]], origin: Origin
) -> list[dict[str, Any]]:
    """capture:available per recording, at its stopTime (when it became available)."""
    events = []
    for recording in recordings:
        attributes = recording.get("attributes") or {}
        stop, path = epoch_ms(attributes.get("stopTime")), attributes.get("filePath")
        if stop is None or not path:
            continue
        data = {"taskId": task_id, "filePath": unsigned(str(path)), "createdTime": stop}
        events.append(cloud_event("capture:available", data, origin))
    return events
