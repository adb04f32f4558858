"""The view's entries: a projection document's bytes plus the few fields it is indexed by.

Holding the document as received (bytes) and only the indexed fields as Python values
keeps 10,000 agents and 100,000 tasks far under 1 GiB, and lets a response send the
bytes without encoding them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson

from wxcc_stream.api.errors import BadDocument

WAITING = frozenset({"new", "parked"})
IN_PROGRESS = frozenset({"connect", "connected", "on-hold", "consulting", "conferencing"})


class Kind(Enum):
    """The two projections."""

    AGENT = "agent"
    TASK = "task"


@dataclass(frozen=True, slots=True)
class AgentEntry:
    """One agent-state document and what it is indexed and aggregated by."""

    key: str
    raw: bytes
    revision: int
    team_id: str | None
    state: str
    state_since: int | None
    logged_in: bool
    idle_code_id: str | None
    last_event_time: int | None


@dataclass(frozen=True, slots=True)
class TaskEntry:
    """One task-lifecycle document and what it is indexed and aggregated by."""

    key: str
    raw: bytes
    revision: int
    queue_id: str | None
    status: str | None
    channel_type: str | None
    direction: str | None
    new_time: int | None
    parked_time: int | None
    connected_time: int | None
    ended_time: int | None
    queue_wait_ms: int | None
    talk_ms: int | None
    hold_ms: int
    wrap_up_ms: int
    last_event_time: int | None

    @property
    def waiting(self) -> bool:
        """In a queue: new or parked (an ended task is never waiting)."""
        return self.status in WAITING

    @property
    def queued_since(self) -> int | None:
        """When the customer started waiting: first parked time, else the new time."""
        return self.parked_time if self.parked_time is not None else self.new_time


Entry = AgentEntry | TaskEntry


def _int(doc: dict[str, Any], name: str) -> int | None:
    value = doc.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadDocument(f"{name} is not an integer: {value!r}")
    return value


def _str(doc: dict[str, Any], name: str) -> str | None:
    value = doc.get(name)
    if value is None or isinstance(value, str):
        return value
    raise BadDocument(f"{name} is not a string: {value!r}")


def decode_entry(kind: Kind, key: str, raw: bytes) -> Entry:
    """The entry of one projection record; BadDocument when it is not a document."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadDocument(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadDocument("not a JSON object")
    revision = _int(doc, "revision")
    if revision is None:
        raise BadDocument("no revision")
    if kind is Kind.AGENT:
        state = _str(doc, "state")
        if state is None:
            raise BadDocument("no state")
        return AgentEntry(
            key=key,
            raw=raw,
            revision=revision,
            team_id=_str(doc, "teamId"),
            state=state,
            state_since=_int(doc, "stateSince"),
            logged_in=bool(doc.get("loggedIn")),
            idle_code_id=_str(doc, "idleCodeId"),
            last_event_time=_int(doc, "lastEventTime"),
        )
    return TaskEntry(
        key=key,
        raw=raw,
        revision=revision,
        queue_id=_str(doc, "queueId"),
        status=_str(doc, "status"),
        channel_type=_str(doc, "channelType"),
        direction=_str(doc, "direction"),
        new_time=_int(doc, "newTime"),
        parked_time=_int(doc, "parkedTime"),
        connected_time=_int(doc, "connectedTime"),
        ended_time=_int(doc, "endedTime"),
        queue_wait_ms=_int(doc, "queueWaitMs"),
        talk_ms=_int(doc, "talkMs"),
        hold_ms=_int(doc, "holdMs") or 0,
        wrap_up_ms=_int(doc, "wrapUpMs") or 0,
        last_event_time=_int(doc, "lastEventTime"),
    )
