"""Activity rows -> the authoritative agent summary (`agent:reconciled`). Pure.

A lost agent event older than the worker's horizon is not folded live; the summary makes
that harmless: it states the agent's session as the API rows show it, folded by the
projection's own rules from the session's login to the newest row, and the worker resets
the session to it (docs/projections.md, "The authoritative agent summary"). It sits at
the newest row it sums up, so a run that reads no newer row makes the same summary (the
same id and identity: known, not injected again)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wxcc_stream.projections.agent_state import evolve_agent, initial_agent_state
from wxcc_stream.projections.agent_summary import AGENT_RECONCILED_TYPE
from wxcc_stream.projections.event_order import order_key, semantic_identity
from wxcc_stream.reconcile.events import Origin, activity_event, cloud_event
from wxcc_stream.schemas.cloudevent import parse_event
from wxcc_stream.schemas.event import EntityKind, Event

# fields the rows set only when an event carries the key (else an older session's value)
_COPIED = ("idleCodeId", "destination", "profileType", "teamId")


def _session(events: Iterable[Event]) -> list[Event]:
    """The agent's events from its last login on, in the contract's order, each once."""
    ordered = sorted(events, key=lambda e: order_key(e, EntityKind.AGENT))
    once: dict[Any, Event] = {}
    for event in ordered:
        once.setdefault(semantic_identity(EntityKind.AGENT, event.entity_id, event), event)
    unique = list(once.values())
    logins = [i for i, e in enumerate(unique) if e.type == "agent:login"]
    return unique[logins[-1] :] if logins else []


def session_facts(agent_id: str, session: list[Event]) -> dict[str, Any]:
    """The summary's data: the session folded as the projection folds it."""
    state = initial_agent_state(agent_id)
    for event in session:
        state = evolve_agent(state, event)
    data: dict[str, Any] = {
        "agentId": agent_id,
        "createdTime": session[-1].created_time,
        "loggedIn": state.logged_in,
        "state": state.state,
        "stateSince": state.state_since,
        "sessionStart": state.session_start,
        "timeInState": dict(state.time_in_state),
        "taskIds": list(state.task_ids),
    }
    values = {"idleCodeId": state.idle_code_id, "destination": state.destination,
              "profileType": state.profile_type, "teamId": state.team_id}  # fmt: skip
    for key in _COPIED:
        if any(key in e.data and (key != "teamId" or e.data[key] is not None) for e in session):
            data[key] = values[key]
    return data


def agent_events(
    rows: Iterable[Mapping[str, Any]], origin: Origin, state_change_type: str = "agent:state_change"
) -> list[Event]:
    """The agent events the rows stand for (as the job maps them)."""
    mapped = (activity_event(row, origin, state_change_type) for row in rows)
    return [parse_event(m) for m in mapped if m is not None]


def agent_summary_events(
    events: Iterable[Event], agents: Iterable[str], origin: Origin
) -> list[dict[str, Any]]:
    """One summary per agent of `agents` whose events hold the login of its last session
    (an agent whose session began before them gets none)."""
    wanted = set(agents)
    by_agent: dict[str, list[Event]] = {a: [] for a in wanted}
    for event in events:
        if event.entity_id in wanted:
            by_agent[event.entity_id].append(event)
    out = []
    for agent_id in sorted(by_agent):
        session = _session(by_agent[agent_id])
        if session:
            out.append(cloud_event(AGENT_RECONCILED_TYPE, session_facts(agent_id, session), origin))
    return out
