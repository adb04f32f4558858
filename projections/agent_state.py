"""Agent-state projection: an agent's live state folded from its `agent:*` events.

Rules and document fields are those of docs/projections.md, "agent-state".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wxcc_stream.projections.agent_summary import agent_summary_changes
from wxcc_stream.projections.fold import SCHEMA_VERSION, add_time, lower_state
from wxcc_stream.projections.states import LOGGED_OUT, AgentState
from wxcc_stream.schemas.event import Event

# a `*-done` state returns the agent to the state it implies
_AGENT_DONE = {
    "hold-done": "connected",
    "consult-done": "connected",
    "conference-done": "connected",
    "wrapup-done": "available",
}
# reported states (before the `*-done` mapping) that put the event's taskId on the agent
_TASK_ADDING = frozenset(
    {
        "ringing",
        "connected",
        "on-hold",
        "hold-done",
        "consulting",
        "consult-done",
        "conferencing",
        "conference-done",
        "wrapup",
    }
)
_TASK_REMOVING = frozenset({"not-responding", "wrapup-done"})
# data keys copied whenever present, null included: (vendor key, state field)
_COPIED = (
    ("destination", "destination"),
    ("profileType", "profile_type"),
    ("idleCodeId", "idle_code_id"),
    ("wrapUpAuxCodeId", "wrap_up_aux_code_id"),
    ("connectedChannels", "connected_channels"),
)


def initial_agent_state(agent_id: str) -> AgentState:
    """The state of an agent before any event: logged out, everything else empty."""
    return AgentState(agent_id=agent_id)


def is_agent_terminal(state: AgentState) -> bool:
    """True when the agent has logged out (its history may be released after the horizon)."""
    return state.revision > 0 and not state.logged_in


Changes = dict[str, Any]


def _transition(state: AgentState, new: str, t: int) -> Changes:
    """Enter `new` at `t`, crediting the time spent in the old state (not while logged out)."""
    if new == state.state:
        return {}
    spent = state.time_in_state
    if state.state != LOGGED_OUT and state.state_since is not None:
        spent = add_time(spent, state.state, t - state.state_since)
    return {"state": new, "state_since": t, "time_in_state": spent}


def _login(state: AgentState, event: Event) -> Changes:
    t = event.created_time
    # the previous state's time is credited before the reset, so it is simply discarded
    return {
        "state": lower_state(event.data) or "idle",
        "state_since": t,
        "logged_in": True,
        "session_start": t,
        "time_in_state": (),
        "task_ids": (),
    }


def _logout(state: AgentState, event: Event) -> Changes:
    return {
        "logged_in": False,
        "task_ids": (),
        **_transition(state, LOGGED_OUT, event.created_time),
    }


def _state_change(state: AgentState, event: Event) -> Changes:
    reported = lower_state(event.data)
    # without a currentState the event still updates the copied fields, not the state
    new = state.state if reported is None else _AGENT_DONE.get(reported, reported)
    changes: Changes = {"logged_in": new != LOGGED_OUT}
    task_id = event.data.get("taskId")
    if isinstance(task_id, str) and reported is not None:
        if reported in _TASK_ADDING and task_id not in state.task_ids:
            changes["task_ids"] = tuple(sorted((*state.task_ids, task_id)))
        elif reported in _TASK_REMOVING and task_id in state.task_ids:
            changes["task_ids"] = tuple(i for i in state.task_ids if i != task_id)
    changes.update(_transition(state, new, event.created_time))
    return changes


_HANDLERS: Mapping[str, Callable[[AgentState, Event], Changes]] = {
    "agent:login": _login,
    "agent:logout": _logout,
    "agent:state_change": _state_change,
    "agent:channel_state_change": _state_change,
}


def _identity(state: AgentState, event: Event) -> Changes:
    """orgId, teamId and the fields copied whenever their key is present."""
    data = event.data
    changes: Changes = {}
    if event.org_id is not None:
        changes["org_id"] = event.org_id
    team = data.get("teamId")
    if team is not None:
        changes["team_id"] = team
    for key, name in _COPIED:
        if key in data:
            changes[name] = data[key]
    return changes


def evolve_agent(state: AgentState, event: Event) -> AgentState:
    """Fold one event into an agent's state.

    Unknown types change nothing but `lastEventTime`, `lastEventId` and `revision`: they are
    counted, not dropped.
    """
    handler = _HANDLERS.get(event.type)
    if handler is None:
        # the authoritative summary resets the session; unmarked, it is an unknown type
        return _counted(state, agent_summary_changes(event) or {}, event)
    changes = _identity(state, event)
    changes.update(handler(state, event))
    return _counted(state, changes, event)


def _counted(state: AgentState, changes: Changes, event: Event) -> AgentState:
    """`state` with `changes` applied and `event` counted as the newest folded event.

    `dataclasses.replace` written out, positionally in field order (a test checks the
    wiring): this runs once per event, and replace or keywords cost two to three times more.
    """
    get = changes.get
    return AgentState(
        state.agent_id,
        get("org_id", state.org_id),
        get("team_id", state.team_id),
        get("logged_in", state.logged_in),
        get("state", state.state),
        get("state_since", state.state_since),
        get("idle_code_id", state.idle_code_id),
        get("wrap_up_aux_code_id", state.wrap_up_aux_code_id),
        get("task_ids", state.task_ids),
        get("connected_channels", state.connected_channels),
        get("destination", state.destination),
        get("profile_type", state.profile_type),
        get("session_start", state.session_start),
        get("time_in_state", state.time_in_state),
        event.created_time,
        event.ce_id,
        state.revision + 1,
    )


def agent_document(state: AgentState) -> dict[str, Any]:
    """The agent-state projection document, with exactly the contract's keys."""
    return {
        "agentId": state.agent_id,
        "orgId": state.org_id,
        "teamId": state.team_id,
        "loggedIn": state.logged_in,
        "state": state.state,
        "stateSince": state.state_since,
        "idleCodeId": state.idle_code_id,
        "wrapUpAuxCodeId": state.wrap_up_aux_code_id,
        "taskIds": list(state.task_ids),
        "connectedChannels": state.connected_channels,
        "destination": state.destination,
        "profileType": state.profile_type,
        "sessionStart": state.session_start,
        "timeInState": dict(state.time_in_state),
        "lastEventTime": state.last_event_time,
        "lastEventId": state.last_event_id,
        "revision": state.revision,
        "schema_version": SCHEMA_VERSION,
    }


def agent_state_to_dict(state: AgentState) -> dict[str, Any]:
    """A JSON-ready dict of the whole state (the inverse of `agent_state_from_dict`)."""
    return agent_document(state)


def agent_state_from_dict(raw: Mapping[str, Any]) -> AgentState:
    """Rebuild a state from `agent_state_to_dict` output."""
    return AgentState(
        agent_id=raw["agentId"],
        org_id=raw["orgId"],
        team_id=raw["teamId"],
        logged_in=raw["loggedIn"],
        state=raw["state"],
        state_since=raw["stateSince"],
        idle_code_id=raw["idleCodeId"],
        wrap_up_aux_code_id=raw["wrapUpAuxCodeId"],
        task_ids=tuple(raw["taskIds"]),
        connected_channels=raw["connectedChannels"],
        destination=raw["destination"],
        profile_type=raw["profileType"],
        session_start=raw["sessionStart"],
        time_in_state=tuple(sorted(raw["timeInState"].items())),
        last_event_time=raw["lastEventTime"],
        last_event_id=raw["lastEventId"],
        revision=raw["revision"],
    )
