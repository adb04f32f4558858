"""The agent-state and task-lifecycle folds, rule by rule (docs/projections.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from tests.unit.event_builders import AGENT, ORG, TASK, agent_event, leg_event, task_event
from wxcc_stream.projections import (
    agent_document,
    agent_state_from_dict,
    agent_state_to_dict,
    document_bytes,
    evolve_agent,
    evolve_task,
    fold,
    initial_agent_state,
    initial_task,
    task_document,
    task_from_dict,
    task_to_dict,
)
from wxcc_stream.projections.agent_state import _counted as agent_counted
from wxcc_stream.projections.task_lifecycle import _counted as task_counted
from wxcc_stream.schemas.event import Event

AGENT_KEYS = [
    "agentId",
    "orgId",
    "teamId",
    "loggedIn",
    "state",
    "stateSince",
    "idleCodeId",
    "wrapUpAuxCodeId",
    "taskIds",
    "connectedChannels",
    "destination",
    "profileType",
    "sessionStart",
    "timeInState",
    "lastEventTime",
    "lastEventId",
    "revision",
    "schema_version",
]
TASK_KEYS = [
    "taskId",
    "orgId",
    "channelType",
    "direction",
    "outboundType",
    "origin",
    "destination",
    "queueId",
    "status",
    "newTime",
    "parkedTime",
    "connectTime",
    "connectedTime",
    "endedTime",
    "queueWaitMs",
    "ringMs",
    "talkMs",
    "holdCount",
    "holdMs",
    "consultCount",
    "conferenceCount",
    "wrapUpMs",
    "agentIds",
    "legs",
    "terminatingParty",
    "reason",
    "captures",
    "lastEventTime",
    "lastEventId",
    "revision",
    "schema_version",
]


def agent_doc(events: Sequence[Event]) -> dict[str, Any]:
    wired = [_wired(e) for e in events]
    return agent_document(fold(wired, initial_agent_state(AGENT), evolve_agent))


def task_doc(events: Sequence[Event]) -> dict[str, Any]:
    return task_document(fold([_wired(e) for e in events], initial_task(TASK), evolve_task))


def _wired(event: Event) -> Event:
    """The event as the worker gets it, decoded from bytes: its strings equal the literals
    but are not the same objects, so the folds must compare values."""
    return Event.from_dict(orjson.loads(orjson.dumps(event.to_dict())))


def login(t: int, ce_id: str = "", **data: Any) -> Event:
    return agent_event("agent:login", t, ce_id or f"login-{t}", **data)


def change(state: str, t: int, ce_id: str = "", **data: Any) -> Event:
    return agent_event("agent:state_change", t, ce_id or f"sc-{t}", currentState=state, **data)


def logout(t: int, ce_id: str = "", **data: Any) -> Event:
    return agent_event("agent:logout", t, ce_id or f"logout-{t}", **data)


def task(type_: str, t: int, ce_id: str = "", **data: Any) -> Event:
    return task_event(f"task:{type_}", t, ce_id or f"{type_}-{t}", **data)


# ---------------------------------------------------------------- fold helpers


def test_fold_applies_events_in_the_given_order() -> None:
    assert fold([1, 2, 3], "", lambda acc, x: f"{acc}{x}") == "123"


def test_document_bytes_sorts_keys_at_every_level() -> None:
    assert document_bytes({"b": 1, "a": {"d": 2, "c": 3}}) == b'{"a":{"c":3,"d":2},"b":1}'


# ---------------------------------------------------------------- agent-state


def test_agent_start_document() -> None:
    doc = agent_document(initial_agent_state(AGENT))
    assert list(doc) == AGENT_KEYS
    assert doc == {
        "agentId": AGENT,
        "orgId": None,
        "teamId": None,
        "loggedIn": False,
        "state": "logged-out",
        "stateSince": None,
        "idleCodeId": None,
        "wrapUpAuxCodeId": None,
        "taskIds": [],
        "connectedChannels": None,
        "destination": None,
        "profileType": None,
        "sessionStart": None,
        "timeInState": {},
        "lastEventTime": None,
        "lastEventId": None,
        "revision": 0,
        "schema_version": 1,
    }


@pytest.mark.parametrize(
    ("data", "state"),
    [
        ({"currentState": "Available"}, "available"),
        ({"currentState": "IDLE"}, "idle"),
        ({}, "idle"),
        ({"currentState": None}, "idle"),
    ],
)
def test_login_state_session_and_reset(data: dict[str, Any], state: str) -> None:
    doc = agent_doc([login(100, "l1", **data)])
    assert doc["loggedIn"] is True
    assert doc["state"] == state
    assert doc["stateSince"] == 100
    assert doc["sessionStart"] == 100
    assert doc["timeInState"] == {}
    assert doc["taskIds"] == []
    assert (doc["lastEventTime"], doc["lastEventId"], doc["revision"]) == (100, "l1", 1)


@pytest.mark.parametrize(
    ("reported", "state"),
    [
        ("hold-done", "connected"),
        ("consult-done", "connected"),
        ("conference-done", "connected"),
        ("wrapup-done", "available"),
        ("Not-Responding", "not-responding"),
        ("On-Hold", "on-hold"),
        ("wrapup", "wrapup"),
        ("logged-out", "logged-out"),
    ],
)
def test_state_change_maps_done_states(reported: str, state: str) -> None:
    doc = agent_doc([login(0, currentState="idle"), change(reported, 10)])
    assert doc["state"] == state
    assert doc["stateSince"] == 10
    assert doc["loggedIn"] is (state != "logged-out")


def test_channel_state_change_folds_like_state_change() -> None:
    v2 = agent_event("agent:channel_state_change", 10, "c1", currentState="consult-done")
    doc = agent_doc([login(0), v2])
    assert (doc["state"], doc["stateSince"], doc["revision"]) == ("connected", 10, 2)


def test_time_in_state_accumulates_on_change_only() -> None:
    doc = agent_doc(
        [
            login(0, currentState="idle"),
            change("available", 100),
            change("ringing", 250),
            change("ringing", 300),  # no change: stateSince stays 250
            change("connected", 330),
            change("hold-done", 400),  # maps to connected: still no change
            change("available", 500),
            change("idle", 600),
        ]
    )
    assert doc["timeInState"] == {"idle": 100, "available": 250, "ringing": 80, "connected": 170}
    assert (doc["state"], doc["stateSince"]) == ("idle", 600)
    assert list(doc["timeInState"]) == sorted(doc["timeInState"])
    # within the repeated state: its time is not credited yet, and its start stays
    doc = agent_doc([login(0, currentState="idle"), change("ringing", 250), change("Ringing", 300)])
    assert (doc["state"], doc["stateSince"], doc["timeInState"]) == ("ringing", 250, {"idle": 250})


def test_logged_out_time_is_not_counted_and_login_starts_a_new_session() -> None:
    first = [login(0, currentState="idle"), change("available", 100), logout(400)]
    doc = agent_doc(first)
    assert doc["timeInState"] == {"idle": 100, "available": 300}
    assert (doc["state"], doc["stateSince"], doc["loggedIn"]) == ("logged-out", 400, False)
    assert doc["sessionStart"] == 0  # logout does not clear the session start
    doc = agent_doc([*first, login(1000, currentState="available"), change("idle", 1500)])
    assert doc["timeInState"] == {"available": 500}
    assert doc["sessionStart"] == 1000


def test_a_logged_out_state_change_counts_as_a_logout_for_time_in_state() -> None:
    first = [login(0, currentState="idle"), change("Logged-Out", 400)]
    doc = agent_doc([*first, change("available", 1000), change("idle", 1200)])
    assert doc["timeInState"] == {"idle": 400, "available": 200}


@pytest.mark.parametrize("reported", ["ringing", "connected", "wrapup", "wrapup-done"])
def test_a_state_change_without_a_task_id_leaves_the_task_ids(reported: str) -> None:
    events = [login(0), change("ringing", 10, taskId="t-1")]
    assert agent_doc([*events, change(reported, 20)])["taskIds"] == ["t-1"]
    assert agent_doc([*events, change(reported, 20, taskId=None)])["taskIds"] == ["t-1"]


def test_logged_out_time_is_not_counted_without_a_login_either() -> None:
    """The login webhook lost: the agent reappears with a state change, and the time it
    spent logged out is still not credited."""
    first = [login(0, currentState="idle"), change("available", 100), logout(400)]
    doc = agent_doc([*first, change("idle", 1000), change("available", 1200)])
    assert doc["timeInState"] == {"idle": 300, "available": 300}
    assert (doc["state"], doc["stateSince"], doc["loggedIn"]) == ("available", 1200, True)


def test_login_while_logged_in_restarts_the_session() -> None:
    doc = agent_doc([login(0, currentState="idle"), change("available", 50), login(80)])
    assert doc["timeInState"] == {}
    assert (doc["state"], doc["stateSince"], doc["sessionStart"]) == ("idle", 80, 80)


def test_task_ids_follow_the_reported_state() -> None:
    events = [
        login(0),
        change("ringing", 10, taskId="t-b"),
        change("ringing", 11, taskId="t-a"),
        change("connected", 12, taskId="t-b"),  # already there: once
        change("not-responding", 20, taskId="t-a"),
    ]
    assert agent_doc(events)["taskIds"] == ["t-b"]
    events.append(change("conferencing", 30, taskId="t-c"))
    assert agent_doc(events)["taskIds"] == ["t-b", "t-c"]
    events.append(change("wrapup-done", 40, taskId="t-b"))
    assert agent_doc(events)["taskIds"] == ["t-c"]
    assert agent_doc([*events, logout(50)])["taskIds"] == []
    assert agent_doc([*events, login(60)])["taskIds"] == []
    # a state that neither adds nor removes leaves the list alone
    assert agent_doc([*events, change("idle", 70, taskId="t-d")])["taskIds"] == ["t-c"]


@pytest.mark.parametrize("removed", ["t-a", "t-b", "t-c"])
def test_removing_a_task_keeps_the_others(removed: str) -> None:
    events = [login(0)] + [
        change("connected", 10 + i, taskId=task) for i, task in enumerate(["t-a", "t-b", "t-c"])
    ]
    kept = [t for t in ["t-a", "t-b", "t-c"] if t != removed]
    for ending in ("wrapup-done", "not-responding"):
        assert agent_doc([*events, change(ending, 20, taskId=removed)])["taskIds"] == kept


@pytest.mark.parametrize(
    "state",
    [
        "ringing",
        "connected",
        "on-hold",
        "hold-done",
        "consulting",
        "consult-done",
        "conferencing",
        "conference-done",
        "wrapup",
    ],
)
def test_every_adding_state_adds_the_task(state: str) -> None:
    assert agent_doc([login(0), change(state, 10, taskId="t-x")])["taskIds"] == ["t-x"]


def test_copied_fields_take_null_when_the_key_is_present() -> None:
    first = change(
        "idle",
        10,
        idleCodeId="ic-1",
        wrapUpAuxCodeId="wc-1",
        destination="+1555",
        profileType="BLENDED",
        connectedChannels=["ch-1"],
        teamId="team-1",
    )
    doc = agent_doc([login(0), first])
    assert (doc["idleCodeId"], doc["wrapUpAuxCodeId"], doc["teamId"]) == ("ic-1", "wc-1", "team-1")
    assert (doc["destination"], doc["profileType"]) == ("+1555", "BLENDED")
    assert doc["connectedChannels"] == ["ch-1"]
    nulls = change(
        "available",
        20,
        idleCodeId=None,
        wrapUpAuxCodeId=None,
        destination=None,
        profileType=None,
        connectedChannels=None,
        teamId=None,  # teamId is only taken when not null
    )
    doc = agent_doc([login(0), first, nulls])
    assert doc["teamId"] == "team-1"
    for key in ("idleCodeId", "wrapUpAuxCodeId", "destination", "profileType"):
        assert doc[key] is None, key
    assert doc["connectedChannels"] is None
    # absent keys leave the values alone
    doc = agent_doc([login(0), first, change("available", 20)])
    assert (doc["idleCodeId"], doc["connectedChannels"]) == ("ic-1", ["ch-1"])


def test_org_is_taken_unless_null() -> None:
    doc = agent_doc([login(0, org="org-a"), change("available", 10, org=None)])
    assert doc["orgId"] == "org-a"
    assert agent_doc([login(0, org="org-a"), change("idle", 10, org="org-b")])["orgId"] == "org-b"


def test_unknown_agent_type_is_counted_and_changes_nothing_else() -> None:
    known = [login(0, currentState="idle", idleCodeId="ic-1")]
    odd = agent_event(
        "agent:future_thing", 50, "odd-1", org="org-z", currentState="connected", idleCodeId="zz"
    )
    before, after = agent_doc(known), agent_doc([*known, odd])
    assert after["revision"] == 2
    assert (after["lastEventTime"], after["lastEventId"]) == (50, "odd-1")
    for key in set(AGENT_KEYS) - {"revision", "lastEventTime", "lastEventId"}:
        assert after[key] == before[key], key


@pytest.mark.parametrize("reported", [{}, {"currentState": None}, {"currentState": ""}])
def test_state_change_without_a_state_keeps_the_state(reported: dict[str, Any]) -> None:
    stateless = agent_event("agent:state_change", 10, "x", idleCodeId="ic-9", **reported)
    doc = agent_doc([login(0), stateless])
    assert (doc["state"], doc["stateSince"], doc["idleCodeId"]) == ("idle", 0, "ic-9")
    assert doc["loggedIn"]


def test_agent_state_dict_round_trip() -> None:
    state = fold(
        [login(0, teamId="tm"), change("ringing", 5, taskId="t1", connectedChannels=["c"])],
        initial_agent_state(AGENT),
        evolve_agent,
    )
    raw = orjson.loads(orjson.dumps(agent_state_to_dict(state)))
    assert agent_state_from_dict(raw) == state


# ---------------------------------------------------------------- task-lifecycle


def test_task_start_document() -> None:
    doc = task_document(initial_task(TASK))
    assert list(doc) == TASK_KEYS
    assert doc == {
        "taskId": TASK,
        **dict.fromkeys(
            [
                "orgId",
                "channelType",
                "direction",
                "outboundType",
                "origin",
                "destination",
                "queueId",
                "status",
                "newTime",
                "parkedTime",
                "connectTime",
                "connectedTime",
                "endedTime",
                "queueWaitMs",
                "ringMs",
                "talkMs",
                "terminatingParty",
                "reason",
                "lastEventTime",
                "lastEventId",
            ]
        ),
        "holdCount": 0,
        "holdMs": 0,
        "consultCount": 0,
        "conferenceCount": 0,
        "wrapUpMs": 0,
        "agentIds": [],
        "legs": {},
        "captures": [],
        "revision": 0,
        "schema_version": 1,
    }


@pytest.mark.parametrize(
    ("type_", "status"),
    [
        ("new", "new"),
        ("parked", "parked"),
        ("connect", "connect"),
        ("connected", "connected"),
        ("on-hold", "on-hold"),
        ("hold-done", "connected"),
        ("consulting", "consulting"),
        ("consult-done", "connected"),
        ("conferencing", "conferencing"),
        ("conference-done", "connected"),
        ("ended", "ended"),
    ],
)
def test_status_follows_the_type(type_: str, status: str) -> None:
    assert task_doc([task("new", 0), task(type_, 10)])["status"] == status


def test_legs_captures_and_unknown_types_leave_status_alone() -> None:
    events = [
        task("connected", 0),
        leg_event("wrapup", 10, "l1"),
        task_event("capture:available", 20, "c1", filePath="/r/1.wav"),
        task_event("task:something-new", 30, "n1", queueId="q-z"),
    ]
    doc = task_doc(events)
    assert doc["status"] == "connected"
    assert doc["queueId"] is None
    assert (doc["revision"], doc["lastEventId"], doc["lastEventTime"]) == (4, "n1", 30)


def test_phase_times_first_and_ended_last() -> None:
    doc = task_doc(
        [
            task("new", 10),
            task("new", 15),
            task("parked", 20),
            task("parked", 25),
            task("connect", 30),
            task("connect", 35),
            task("connected", 40),
            task("connected", 45),
            task("ended", 90),
            task("ended", 95),
        ]
    )
    assert (doc["newTime"], doc["parkedTime"], doc["connectTime"]) == (10, 20, 30)
    assert (doc["connectedTime"], doc["endedTime"]) == (40, 95)


@pytest.mark.parametrize(
    ("events", "queue_wait"),
    [
        ([task("new", 100), task("parked", 130), task("connect", 200)], 70),
        ([task("new", 100), task("connect", 200)], 100),
        ([task("parked", 130), task("connect", 200)], 70),
        ([task("new", 100), task("parked", 130)], None),
        ([task("connect", 200)], None),
    ],
)
def test_queue_wait(events: list[Event], queue_wait: int | None) -> None:
    assert task_doc(events)["queueWaitMs"] == queue_wait


@pytest.mark.parametrize(
    ("events", "ring"),
    [
        ([task("connect", 100), task("connected", 130)], 30),
        ([task("connect", 100), task("connected", 350)], 250),
        ([task("connect", 100), task("connect", 120), task("connected", 150)], 30),
        ([task("connected", 130)], None),
        ([task("connect", 100), task("connected", 130), task("connect", 140)], 30),
        (
            [
                task("connect", 100),
                task("connected", 130),
                task("connect", 200),
                task("connected", 260),
            ],
            30,
        ),
    ],
)
def test_ring_is_taken_at_the_first_connected(events: list[Event], ring: int | None) -> None:
    assert task_doc(events)["ringMs"] == ring


def test_hold_accounting_and_talk() -> None:
    doc = task_doc(
        [
            task("new", 0),
            task("connected", 100),
            task("on-hold", 200),
            task("hold-done", 260),
            task("hold-done", 300),  # no open hold: nothing
            task("on-hold", 400),
            task("ended", 1000),  # closes the open hold
        ]
    )
    assert (doc["holdCount"], doc["holdMs"]) == (2, 60 + 600)
    assert doc["talkMs"] == 1000 - 100 - 660


def test_a_second_on_hold_counts_but_keeps_the_first_start() -> None:
    doc = task_doc([task("on-hold", 100), task("on-hold", 150), task("hold-done", 200)])
    assert (doc["holdCount"], doc["holdMs"]) == (2, 100)


@pytest.mark.parametrize(
    ("events", "talk"),
    [
        ([task("connected", 100)], None),
        ([task("ended", 500)], None),
        ([task("connected", 100), task("ended", 500)], 400),
    ],
)
def test_talk_needs_both_times(events: list[Event], talk: int | None) -> None:
    assert task_doc(events)["talkMs"] == talk


def test_consult_and_conference_counts() -> None:
    doc = task_doc(
        [
            task("consulting", 1),
            task("consult-done", 2),
            task("consulting", 3),
            task("conferencing", 4),
            task("conference-done", 5),
        ]
    )
    assert (doc["consultCount"], doc["conferenceCount"]) == (2, 1)
    doc = task_doc([task("conferencing", 4), task("conferencing", 6), task("consulting", 7)])
    assert (doc["consultCount"], doc["conferenceCount"]) == (1, 2)


def test_ended_takes_party_and_reason_when_present() -> None:
    doc = task_doc([task("ended", 10, terminatingParty="agent", reason="done")])
    assert (doc["terminatingParty"], doc["reason"]) == ("agent", "done")
    doc = task_doc(
        [
            task("ended", 10, terminatingParty="agent", reason="done"),
            task("ended", 20, reason=None),
        ]
    )
    assert (doc["terminatingParty"], doc["reason"], doc["endedTime"]) == ("agent", None, 20)


def test_captures_sorted_and_distinct() -> None:
    doc = task_doc(
        [
            task_event("capture:available", 10, "c1", filePath="/b.wav"),
            task_event("capture:available", 11, "c2", filePath="/a.wav"),
            task_event("capture:available", 12, "c3", filePath="/b.wav"),
        ]
    )
    assert doc["captures"] == ["/a.wav", "/b.wav"]
    assert doc["revision"] == 3


def test_routing_fields_take_null_when_present_and_only_from_task_events() -> None:
    routing = {
        "channelType": "telephony",
        "direction": "OUTBOUND",
        "outboundType": "CALLBACK",
        "origin": "+1555",
        "destination": "+1666",
        "queueId": "q-1",
    }
    doc = task_doc([task("new", 0, org="org-a", **routing)])
    assert {k: doc[k] for k in routing} == routing
    assert doc["orgId"] == "org-a"
    doc = task_doc(
        [
            task("new", 0, org="org-a", **routing),
            task("connected", 10, org=None, outboundType=None, queueId=None),
            # neither a leg nor a capture touches identity fields
            leg_event("connected", 20, "l1", org="org-b", destination="+1999"),
            task_event("capture:available", 30, "c1", org="org-c", queueId="q-9"),
        ]
    )
    assert (doc["outboundType"], doc["queueId"], doc["orgId"]) == (None, None, "org-a")
    assert (doc["destination"], doc["channelType"]) == ("+1666", "telephony")


def test_legs_time_in_state_and_wrap_up() -> None:
    doc = task_doc(
        [
            task("connect", 0),
            leg_event("ringing", 100, "a1", agent="ag-a"),
            leg_event("connected", 110, "a2", agent="ag-a"),
            leg_event("on-hold", 150, "a3", agent="ag-a"),
            leg_event("hold-done", 170, "a4", agent="ag-a"),
            leg_event("consult-done", 180, "a5", agent="ag-a"),  # -> connected: no change
            leg_event("wrapup", 300, "a6", agent="ag-a"),
            leg_event("wrapup-done", 340, "a7", agent="ag-a", wrapUpAuxCodeId="wc-7"),
            leg_event("ringing", 120, "b1", agent="ag-b"),
            leg_event("not-responding", 135, "b2", agent="ag-b"),
        ]
    )
    assert doc["agentIds"] == ["ag-a", "ag-b"]
    assert doc["legs"] == {
        "ag-a": {
            "state": "done",
            "since": 340,
            "timeInState": {"ringing": 10, "connected": 40 + 130, "on-hold": 20, "wrapup": 40},
            "wrapUpAuxCodeId": "wc-7",
        },
        "ag-b": {
            "state": "done",
            "since": 135,
            "timeInState": {"ringing": 15},
            "wrapUpAuxCodeId": None,
        },
    }
    assert doc["wrapUpMs"] == 40


def test_channel_state_change_folds_as_a_leg_like_state_change() -> None:
    """The v2 name of a leg event (mixed with v1 ones, as during a migration) is one leg."""
    v2 = "agent:channel_state_change"
    mixed = task_doc(
        [
            leg_event("ringing", 100, "a1", type_=v2),
            leg_event("connected", 110, "a2"),
            leg_event("wrapup", 300, "a3", type_=v2),
            leg_event("wrapup-done", 340, "a4", type_=v2, wrapUpAuxCodeId="wc-7"),
        ]
    )
    assert mixed["legs"] == {
        AGENT: {
            "state": "done",
            "since": 340,
            "timeInState": {"ringing": 10, "connected": 190, "wrapup": 40},
            "wrapUpAuxCodeId": "wc-7",
        }
    }
    assert (mixed["agentIds"], mixed["wrapUpMs"], mixed["status"]) == ([AGENT], 40, None)
    v1_only = task_doc(
        [
            leg_event("ringing", 100, "a1"),
            leg_event("connected", 110, "a2"),
            leg_event("wrapup", 300, "a3"),
            leg_event("wrapup-done", 340, "a4", wrapUpAuxCodeId="wc-7"),
        ]
    )
    assert mixed == v1_only


def test_a_done_leg_accumulates_nothing_until_it_changes() -> None:
    doc = task_doc(
        [
            leg_event("wrapup", 0, "x1"),
            leg_event("wrapup-done", 10, "x2"),
            leg_event("ringing", 500, "x3"),  # back on the task much later
            leg_event("connected", 520, "x4"),
            leg_event("wrapup", 600, "x5", wrapUpAuxCodeId="wc"),
            leg_event("wrapup-done", 650, "x6", wrapUpAuxCodeId=None),
        ]
    )
    leg = doc["legs"][AGENT]
    assert leg["timeInState"] == {"wrapup": 10 + 50, "ringing": 20, "connected": 80}
    assert leg["wrapUpAuxCodeId"] is None
    assert doc["wrapUpMs"] == 60


def test_a_done_leg_restored_from_its_stored_form_accumulates_nothing() -> None:
    """A restarted worker folds on from the stored state (JSON bytes): the rules hold for
    the decoded values as for the folded ones."""
    done = fold(
        [leg_event("wrapup", 0, "x1"), leg_event("wrapup-done", 10, "x2")],
        initial_task(TASK),
        evolve_task,
    )
    restored = task_from_dict(orjson.loads(document_bytes(task_to_dict(done))))
    assert restored == done
    back = evolve_task(restored, leg_event("ringing", 500, "x3"))
    assert task_document(back)["legs"][AGENT]["timeInState"] == {"wrapup": 10}


def test_a_leg_reporting_its_state_again_keeps_its_since() -> None:
    """Time is credited on a change only: the same state reported again (a later ms, from
    another source) is no change."""
    events = [leg_event("connected", 100, "x1"), leg_event("Connected", 150, "x2")]
    leg = task_doc(events)["legs"][AGENT]
    assert (leg["state"], leg["since"], leg["timeInState"]) == ("connected", 100, {})
    leg = task_doc([*events, leg_event("wrapup", 200, "x3")])["legs"][AGENT]
    assert leg["timeInState"] == {"connected": 100}


def test_wrap_up_sums_over_legs() -> None:
    doc = task_doc(
        [
            leg_event("wrapup", 0, "a1", agent="ag-a"),
            leg_event("wrapup-done", 30, "a2", agent="ag-a"),
            leg_event("wrapup", 5, "b1", agent="ag-b"),
            leg_event("wrapup-done", 12, "b2", agent="ag-b"),
        ]
    )
    assert doc["wrapUpMs"] == 37


def test_task_unknown_type_is_counted_only() -> None:
    doc = task_doc([task("new", 0, queueId="q-1"), task("mystery", 5, queueId="q-2")])
    assert (doc["status"], doc["queueId"], doc["revision"], doc["lastEventId"]) == (
        "new",
        "q-1",
        2,
        "mystery-5",
    )


def test_task_dict_round_trip_keeps_internal_fields() -> None:
    state = fold(
        [
            task("new", 0, queueId=None),
            task("connect", 10),
            task("on-hold", 20),
            leg_event("connected", 15, "l1", wrapUpAuxCodeId="w"),
        ],
        initial_task(TASK),
        evolve_task,
    )
    assert state.hold_start == 20
    assert state.last_connect_time == 10
    raw = orjson.loads(orjson.dumps(task_to_dict(state)))
    assert task_from_dict(raw) == state


def test_org_id_default_is_the_events() -> None:
    assert task_doc([task("new", 0)])["orgId"] == ORG


@pytest.mark.parametrize(
    ("initial", "counted"),
    [
        (initial_agent_state(AGENT), agent_counted),
        (initial_task(TASK), task_counted),
    ],
)
def test_each_change_lands_in_its_own_field(initial: Any, counted: Any) -> None:
    """The unrolled `replace` in each projection wires every field to its own name."""
    event = task("new", 77, "counted")
    names = [n for n in initial.__struct_fields__ if n != "revision"]
    for name in names:
        if name in ("agent_id", "task_id", "last_event_time", "last_event_id"):
            continue
        marker = object()
        after = counted(initial, {name: marker}, event)
        assert getattr(after, name) is marker, name
        for other in names:
            if other not in (name, "last_event_time", "last_event_id"):
                assert getattr(after, other) == getattr(initial, other), (name, other)
        assert (after.last_event_time, after.last_event_id, after.revision) == (77, "counted", 1)
