"""Task-lifecycle projection: a task's phases, timings, agent legs and captures.

Folded from `task:*`, `capture:available` and the `agent:state_change` /
`agent:channel_state_change` events that carry the task's id; rules and document fields are
those of docs/projections.md, "task-lifecycle".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from msgspec.structs import replace

from wxcc_stream.projections.fold import SCHEMA_VERSION, add_time, lower_state
from wxcc_stream.projections.states import Leg, TaskLifecycle
from wxcc_stream.projections.task_summary import (
    RECONCILED_TYPE,
    merged,
    summary_facts,
    with_final,
)
from wxcc_stream.schemas.event import Event

ENDED = "ended"
LEG_DONE = "done"

_STATUS = {
    "task:new": "new",
    "task:parked": "parked",
    "task:connect": "connect",
    "task:connected": "connected",
    "task:on-hold": "on-hold",
    "task:hold-done": "connected",
    "task:consulting": "consulting",
    "task:consult-done": "connected",
    "task:conferencing": "conferencing",
    "task:conference-done": "connected",
    "task:ended": ENDED,
}
# a leg's state: `*-done` returns to connected; wrap-up done and not answering end the leg
_LEG_DONE = {
    "hold-done": "connected",
    "consult-done": "connected",
    "conference-done": "connected",
    "wrapup-done": LEG_DONE,
    "not-responding": LEG_DONE,
}
# routing keys copied from any task:* event whenever present, null included
_ROUTING = (
    ("channelType", "channel_type"),
    ("direction", "direction"),
    ("outboundType", "outbound_type"),
    ("origin", "origin"),
    ("destination", "destination"),
    ("queueId", "queue_id"),
)


def initial_task(task_id: str) -> TaskLifecycle:
    """The state of a task before any event: no status, counters 0, lists empty, times null."""
    return TaskLifecycle(task_id=task_id)


def is_task_terminal(state: TaskLifecycle) -> bool:
    """True once the task has ended (its history may be released after the horizon)."""
    return state.status == ENDED


Changes = dict[str, Any]


def _new(state: TaskLifecycle, event: Event) -> Changes:
    return {} if state.new_time is not None else {"new_time": event.created_time}


def _parked(state: TaskLifecycle, event: Event) -> Changes:
    return {} if state.parked_time is not None else {"parked_time": event.created_time}


def _connect(state: TaskLifecycle, event: Event) -> Changes:
    t = event.created_time
    changes: Changes = {"last_connect_time": t}
    if state.connect_time is None:
        changes["connect_time"] = t
    return changes


def _connected(state: TaskLifecycle, event: Event) -> Changes:
    if state.connected_time is not None:
        return {}
    t = event.created_time
    changes: Changes = {"connected_time": t}
    if state.last_connect_time is not None:
        changes["ring_ms"] = t - state.last_connect_time
    return changes


def _on_hold(state: TaskLifecycle, event: Event) -> Changes:
    changes: Changes = {"hold_count": state.hold_count + 1}
    if state.hold_start is None:
        changes["hold_start"] = event.created_time
    return changes


def _close_hold(state: TaskLifecycle, t: int) -> Changes:
    if state.hold_start is None:
        return {}
    return {"hold_ms": state.hold_ms + t - state.hold_start, "hold_start": None}


def _hold_done(state: TaskLifecycle, event: Event) -> Changes:
    return _close_hold(state, event.created_time)


def _consulting(state: TaskLifecycle, event: Event) -> Changes:
    return {"consult_count": state.consult_count + 1}


def _conferencing(state: TaskLifecycle, event: Event) -> Changes:
    return {"conference_count": state.conference_count + 1}


def _nothing(state: TaskLifecycle, event: Event) -> Changes:
    return {}


def _ended(state: TaskLifecycle, event: Event) -> Changes:
    t = event.created_time
    changes: Changes = {"ended_time": t, **_close_hold(state, t)}
    if "terminatingParty" in event.data:
        changes["terminating_party"] = event.data["terminatingParty"]
    if "reason" in event.data:
        changes["reason"] = event.data["reason"]
    return changes


def _capture(state: TaskLifecycle, event: Event) -> Changes:
    path = event.data.get("filePath")
    if not isinstance(path, str) or path in state.captures:
        return {}
    return {"captures": tuple(sorted((*state.captures, path)))}


def _summary(state: TaskLifecycle, event: Event) -> Changes:
    facts = summary_facts(event)
    return {"final": merged(state.final, facts)} if facts else {}


def summary_on_final(
    state: TaskLifecycle, event: Event, *, always: bool = False
) -> TaskLifecycle | None:
    """A projection corrected by a summary that arrives after the history it would fold
    behind is gone (the summary overlays the fold, so it needs none): a new revision, or
    None when the summary changes nothing (a repeat), unless `always`."""
    changes = _summary(state, event)
    if not changes or (changes["final"] == state.final and not always):
        return None
    return replace(state, final=changes["final"], revision=state.revision + 1)


def _first(pair: tuple[str, Leg]) -> str:
    return pair[0]


def _leg(state: TaskLifecycle, event: Event) -> Changes:
    """An agent's state change on this task: update that agent's leg."""
    data = event.data
    agent = data.get("agentId")
    if not isinstance(agent, str):
        agent = event.entity_id  # an agent event's own entity is its agent
    legs = dict(state.legs)
    leg = legs.get(agent, Leg())
    reported = lower_state(data)
    new = leg.state if reported is None else _LEG_DONE.get(reported, reported)
    leg_state, since, spent = leg.state, leg.since, leg.time_in_state
    if new != leg.state:
        # a leg accumulates nothing while it has no state yet or is done
        if leg.state is not None and leg.state != LEG_DONE and leg.since is not None:
            spent = add_time(spent, leg.state, event.created_time - leg.since)
        leg_state, since = new, event.created_time
    code = data.get("wrapUpAuxCodeId", leg.wrap_up_aux_code_id)
    legs[agent] = Leg(state=leg_state, since=since, time_in_state=spent, wrap_up_aux_code_id=code)
    return {"legs": tuple(sorted(legs.items(), key=_first))}


_HANDLERS: Mapping[str, Callable[[TaskLifecycle, Event], Changes]] = {
    "task:new": _new,
    "task:parked": _parked,
    "task:connect": _connect,
    "task:connected": _connected,
    "task:on-hold": _on_hold,
    "task:hold-done": _hold_done,
    "task:consulting": _consulting,
    "task:consult-done": _nothing,
    "task:conferencing": _conferencing,
    "task:conference-done": _nothing,
    "task:ended": _ended,
    "capture:available": _capture,
    RECONCILED_TYPE: _summary,
    "agent:state_change": _leg,
    "agent:channel_state_change": _leg,  # the v2 spelling of the same change
}


def _routing(event: Event) -> Changes:
    """Identity and routing of a known `task:*` event: orgId and keys present in its data."""
    data = event.data
    changes: Changes = {"status": _STATUS[event.type]}
    if event.org_id is not None:
        changes["org_id"] = event.org_id
    for key, name in _ROUTING:
        if key in data:
            changes[name] = data[key]
    return changes


def evolve_task(state: TaskLifecycle, event: Event) -> TaskLifecycle:
    """Fold one event into a task's lifecycle.

    Unknown types change nothing but `lastEventTime`, `lastEventId` and `revision`: they are
    counted, not dropped.
    """
    handler = _HANDLERS.get(event.type)
    if handler is None:
        return _counted(state, {}, event)
    if event.type in _STATUS:
        changes = _routing(event)
        changes.update(handler(state, event))
        return _counted(state, changes, event)
    return _counted(state, handler(state, event), event)


def _counted(state: TaskLifecycle, changes: Changes, event: Event) -> TaskLifecycle:
    """`state` with `changes` applied and `event` counted as the newest folded event.

    `dataclasses.replace` written out, positionally in field order (a test checks the
    wiring): this runs once per event, and replace or keywords cost two to three times more.
    """
    get = changes.get
    return TaskLifecycle(
        state.task_id,
        get("org_id", state.org_id),
        get("channel_type", state.channel_type),
        get("direction", state.direction),
        get("outbound_type", state.outbound_type),
        get("origin", state.origin),
        get("destination", state.destination),
        get("queue_id", state.queue_id),
        get("status", state.status),
        get("new_time", state.new_time),
        get("parked_time", state.parked_time),
        get("connect_time", state.connect_time),
        get("connected_time", state.connected_time),
        get("ended_time", state.ended_time),
        get("last_connect_time", state.last_connect_time),
        get("ring_ms", state.ring_ms),
        get("hold_count", state.hold_count),
        get("hold_ms", state.hold_ms),
        get("hold_start", state.hold_start),
        get("consult_count", state.consult_count),
        get("conference_count", state.conference_count),
        get("legs", state.legs),
        get("terminating_party", state.terminating_party),
        get("reason", state.reason),
        get("captures", state.captures),
        get("final", state.final),
        event.created_time,
        event.ce_id,
        state.revision + 1,
    )


def _leg_document(leg: Leg) -> dict[str, Any]:
    return {
        "state": leg.state,
        "since": leg.since,
        "timeInState": dict(leg.time_in_state),
        "wrapUpAuxCodeId": leg.wrap_up_aux_code_id,
    }


def task_document(state: TaskLifecycle) -> dict[str, Any]:
    """The task-lifecycle projection document, with exactly the contract's keys."""
    queue_start = state.parked_time if state.parked_time is not None else state.new_time
    queue_wait = (
        state.connect_time - queue_start
        if state.connect_time is not None and queue_start is not None
        else None
    )
    talk = (
        state.ended_time - state.connected_time - state.hold_ms
        if state.ended_time is not None and state.connected_time is not None
        else None
    )
    wrap_up = sum(dict(leg.time_in_state).get("wrapup", 0) for _, leg in state.legs)
    document = {
        "taskId": state.task_id,
        "orgId": state.org_id,
        "channelType": state.channel_type,
        "direction": state.direction,
        "outboundType": state.outbound_type,
        "origin": state.origin,
        "destination": state.destination,
        "queueId": state.queue_id,
        "status": state.status,
        "newTime": state.new_time,
        "parkedTime": state.parked_time,
        "connectTime": state.connect_time,
        "connectedTime": state.connected_time,
        "endedTime": state.ended_time,
        "queueWaitMs": queue_wait,
        "ringMs": state.ring_ms,
        "talkMs": talk,
        "holdCount": state.hold_count,
        "holdMs": state.hold_ms,
        "consultCount": state.consult_count,
        "conferenceCount": state.conference_count,
        "wrapUpMs": wrap_up,
        "agentIds": [agent for agent, _ in state.legs],
        "legs": {agent: _leg_document(leg) for agent, leg in state.legs},
        "terminatingParty": state.terminating_party,
        "reason": state.reason,
        "captures": list(state.captures),
        "lastEventTime": state.last_event_time,
        "lastEventId": state.last_event_id,
        "revision": state.revision,
        "schema_version": SCHEMA_VERSION,
    }
    return with_final(document, state.final) if state.final else document


def task_to_dict(state: TaskLifecycle) -> dict[str, Any]:
    """A JSON-ready dict of the whole state, internal fields included and derived document
    fields left out (see `task_from_dict`): the form a table value keeps."""
    return {
        "taskId": state.task_id,
        "orgId": state.org_id,
        "channelType": state.channel_type,
        "direction": state.direction,
        "outboundType": state.outbound_type,
        "origin": state.origin,
        "destination": state.destination,
        "queueId": state.queue_id,
        "status": state.status,
        "newTime": state.new_time,
        "parkedTime": state.parked_time,
        "connectTime": state.connect_time,
        "connectedTime": state.connected_time,
        "endedTime": state.ended_time,
        "lastConnectTime": state.last_connect_time,
        "ringMs": state.ring_ms,
        "holdCount": state.hold_count,
        "holdMs": state.hold_ms,
        "holdStart": state.hold_start,
        "consultCount": state.consult_count,
        "conferenceCount": state.conference_count,
        "legs": {agent: _leg_document(leg) for agent, leg in state.legs},
        "terminatingParty": state.terminating_party,
        "reason": state.reason,
        "captures": list(state.captures),
        "lastEventTime": state.last_event_time,
        "lastEventId": state.last_event_id,
        "revision": state.revision,
        **({"final": dict(state.final)} if state.final else {}),
    }


def _leg_from_dict(raw: Mapping[str, Any]) -> Leg:
    return Leg(
        state=raw["state"],
        since=raw["since"],
        time_in_state=tuple(sorted(raw["timeInState"].items())),
        wrap_up_aux_code_id=raw["wrapUpAuxCodeId"],
    )


def task_from_dict(raw: Mapping[str, Any]) -> TaskLifecycle:
    """Rebuild a state from `task_to_dict` output (derived document fields, which older
    table values hold, are ignored)."""
    return TaskLifecycle(
        task_id=raw["taskId"],
        org_id=raw["orgId"],
        channel_type=raw["channelType"],
        direction=raw["direction"],
        outbound_type=raw["outboundType"],
        origin=raw["origin"],
        destination=raw["destination"],
        queue_id=raw["queueId"],
        status=raw["status"],
        new_time=raw["newTime"],
        parked_time=raw["parkedTime"],
        connect_time=raw["connectTime"],
        connected_time=raw["connectedTime"],
        ended_time=raw["endedTime"],
        last_connect_time=raw["lastConnectTime"],
        ring_ms=raw["ringMs"],
        hold_count=raw["holdCount"],
        hold_ms=raw["holdMs"],
        hold_start=raw["holdStart"],
        consult_count=raw["consultCount"],
        conference_count=raw["conferenceCount"],
        legs=tuple(
            sorted(((a, _leg_from_dict(leg)) for a, leg in raw["legs"].items()), key=_first)
        ),
        terminating_party=raw["terminatingParty"],
        reason=raw["reason"],
        captures=tuple(raw["captures"]),
        final=tuple(sorted((raw.get("final") or {}).items())),
        last_event_time=raw["lastEventTime"],
        last_event_id=raw["lastEventId"],
        revision=raw["revision"],
    )
