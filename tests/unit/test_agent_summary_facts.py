"""The authoritative agent summary fact by fact (docs/projections.md, "The authoritative
agent summary"): each fact its data has sets that field, as a login resets the session; a
malformed fact, or no marker, and it changes nothing but the bookkeeping."""

from __future__ import annotations

from typing import Any

import pytest
from msgspec.structs import replace

from tests.unit.event_builders import agent_event
from wxcc_stream.projections import agent_document, evolve_agent, fold, initial_agent_state
from wxcc_stream.projections.agent_summary import agent_summary_changes
from wxcc_stream.projections.states import AgentState
from wxcc_stream.schemas.event import Event

BOOKKEEPING = ("lastEventTime", "lastEventId", "revision")


def _summary(t: int = 5_000, ce_id: str = "s", **facts: Any) -> Event:
    return replace(agent_event("agent:reconciled", t, ce_id, **facts), reconciled=True)


def _working() -> AgentState:
    """An agent in a session: logged in, idle then available, on one task."""
    events = [
        agent_event("agent:login", 1_000, "l", currentState="idle", teamId="team-1"),
        agent_event("agent:state_change", 2_000, "a", currentState="available"),
        agent_event("agent:state_change", 3_000, "r", currentState="ringing", taskId="t-1"),
    ]
    return fold(events, initial_agent_state("agent-1"), evolve_agent)


def _without_bookkeeping(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in BOOKKEEPING}


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"loggedIn": False}, {"loggedIn": False}),
        ({"state": "logged-out"}, {"state": "logged-out"}),
        ({"stateSince": 4_000, "sessionStart": 500}, {"stateSince": 4_000, "sessionStart": 500}),
        # a logged-out session has neither
        ({"stateSince": None, "sessionStart": None}, {"stateSince": None, "sessionStart": None}),
        (
            {"timeInState": {"idle": 7, "available": 3}},
            {"timeInState": {"available": 3, "idle": 7}},
        ),
        ({"timeInState": {}}, {"timeInState": {}}),
        # sorted and distinct, like the folded taskIds
        ({"taskIds": ["t-9", "t-2", "t-9"]}, {"taskIds": ["t-2", "t-9"]}),
        ({"taskIds": []}, {"taskIds": []}),
        (
            {"idleCodeId": "lunch", "destination": None},
            {"idleCodeId": "lunch", "destination": None},
        ),
        (
            {"profileType": "BLENDED", "teamId": "team-2"},
            {"profileType": "BLENDED", "teamId": "team-2"},
        ),
    ],
)
def test_each_fact_sets_its_field(facts: dict[str, Any], expected: dict[str, Any]) -> None:
    before = agent_document(_working())
    after = agent_document(evolve_agent(_working(), _summary(**facts)))
    assert {k: after[k] for k in expected} == expected
    untouched = set(before) - set(expected) - set(BOOKKEEPING)
    assert {k: after[k] for k in untouched} == {k: before[k] for k in untouched}
    assert (after["lastEventTime"], after["lastEventId"], after["revision"]) == (
        5_000,
        "s",
        before["revision"] + 1,
    )


@pytest.mark.parametrize(
    "facts",
    [
        {"timeInState": {"idle": "1 h"}},
        {"timeInState": {"idle": 1.5}},
        {"timeInState": {"idle": True}},
        {"timeInState": [["idle", 7]]},
        {"taskIds": "t-1"},
        {"taskIds": ["t-1", 7]},
        {"loggedIn": "yes"},
        {"loggedIn": 1},
        {"state": None},
        {"state": 3},
        {"stateSince": "4000"},
        {"stateSince": 4_000.0},
        {"sessionStart": True},
        # one malformed fact spoils the summary: the valid ones are not applied either
        {"state": "idle", "stateSince": 4_000, "sessionStart": "today"},
    ],
)
def test_a_malformed_fact_changes_nothing(facts: dict[str, Any]) -> None:
    before = agent_document(_working())
    after = agent_document(evolve_agent(_working(), _summary(**facts)))
    assert _without_bookkeeping(after) == _without_bookkeeping(before)
    assert after["revision"] == before["revision"] + 1


def test_an_unmarked_summary_changes_nothing() -> None:
    unmarked = replace(_summary(state="logged-out", loggedIn=False), reconciled=False)
    before = agent_document(_working())
    after = agent_document(evolve_agent(_working(), unmarked))
    assert _without_bookkeeping(after) == _without_bookkeeping(before)
    assert after["revision"] == before["revision"] + 1


def test_a_marked_event_of_another_type_is_not_a_summary() -> None:
    """The reconciliation job marks the lost webhooks it injects too: they fold as what
    they are, not as a reset."""
    injected = replace(
        agent_event("agent:state_change", 5_000, "i", currentState="idle", loggedIn=False),
        reconciled=True,
    )
    document = agent_document(evolve_agent(_working(), injected))
    assert (document["state"], document["loggedIn"]) == ("idle", True)


@pytest.mark.parametrize(
    "type_",
    [
        # the lost webhooks the job injects, marked too (on both sides of the summary's
        # name), and types the contract does not name
        "agent:login",
        "agent:logout",
        "agent:state_change",
        "agent:channel_state_change",
        "agent:available",
        "agent:wrapup_ended",
    ],
)
def test_only_the_summary_type_makes_changes(type_: str) -> None:
    marked = replace(agent_event(type_, 5_000, "i", state="idle", loggedIn=False), reconciled=True)
    assert agent_summary_changes(marked) is None
    assert agent_summary_changes(_summary(state="idle")) == {"state": "idle"}


def test_a_marked_unknown_type_changes_nothing() -> None:
    marked = replace(
        agent_event("agent:wrapup_ended", 5_000, "i", state="logged-out", loggedIn=False),
        reconciled=True,
    )
    before = agent_document(_working())
    after = agent_document(evolve_agent(_working(), marked))
    assert _without_bookkeeping(after) == _without_bookkeeping(before)
