"""Projection documents for the API's unit tests: complete (schema-valid) with defaults."""

from __future__ import annotations

from typing import Any

import orjson


def agent_doc(agent_id: str, **fields: Any) -> dict[str, Any]:
    """An agent-state document; `fields` override the defaults."""
    doc: dict[str, Any] = {
        "agentId": agent_id, "orgId": "org", "teamId": "team-a", "loggedIn": True,
        "state": "available", "stateSince": 1_000, "idleCodeId": None, "wrapUpAuxCodeId": None,
        "taskIds": [], "connectedChannels": None, "destination": None, "profileType": None,
        "sessionStart": 1_000, "timeInState": {}, "lastEventTime": 1_000, "lastEventId": "e1",
        "revision": 1, "schema_version": 1,
    }  # fmt: skip
    doc.update(fields)
    return doc


def task_doc(task_id: str, **fields: Any) -> dict[str, Any]:
    """A task-lifecycle document; `fields` override the defaults."""
    doc: dict[str, Any] = {
        "taskId": task_id, "orgId": "org", "channelType": "telephony", "direction": "INBOUND",
        "outboundType": None, "origin": "+1", "destination": "+2", "queueId": "q1",
        "status": "parked", "newTime": 1_000, "parkedTime": 1_100, "connectTime": None,
        "connectedTime": None, "endedTime": None, "queueWaitMs": None, "ringMs": None,
        "talkMs": None, "holdCount": 0, "holdMs": 0, "consultCount": 0, "conferenceCount": 0,
        "wrapUpMs": 0, "agentIds": [], "legs": {}, "terminatingParty": None, "reason": None,
        "captures": [], "lastEventTime": 1_100, "lastEventId": "t1", "revision": 2,
        "schema_version": 1,
    }  # fmt: skip
    doc.update(fields)
    return doc


def raw(doc: dict[str, Any]) -> bytes:
    """The bytes the worker publishes (orjson, sorted keys)."""
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
