"""The contract's fold order and event identity."""

from __future__ import annotations

import pytest

from tests.unit.event_builders import AGENT, TASK, agent_event, leg_event, task_event
from wxcc_stream.projections.event_order import order_key, semantic_identity, tiebreak
from wxcc_stream.schemas.event import EntityKind, Event

AGENT_RANKS = [
    ("agent:login", 0),
    ("agent:state_change", 1),
    ("agent:channel_state_change", 1),
    ("agent:logout", 2),
    ("agent:something_else", 50),
    ("task:new", 50),
]
TASK_RANKS = [
    ("task:new", 0),
    ("task:parked", 1),
    ("task:connect", 2),
    ("task:connected", 3),
    ("task:on-hold", 4),
    ("task:hold-done", 5),
    ("task:consulting", 6),
    ("task:consult-done", 7),
    ("task:conferencing", 8),
    ("task:conference-done", 9),
    ("agent:state_change", 10),
    ("agent:channel_state_change", 10),
    ("task:ended", 11),
    ("capture:available", 12),
    ("task:unheard-of", 50),
    ("agent:login", 50),
]


@pytest.mark.parametrize(("type_", "rank"), AGENT_RANKS)
def test_agent_stream_tiebreak(type_: str, rank: int) -> None:
    assert tiebreak(EntityKind.AGENT, type_) == rank


@pytest.mark.parametrize(("type_", "rank"), TASK_RANKS)
def test_task_stream_tiebreak(type_: str, rank: int) -> None:
    assert tiebreak(EntityKind.TASK, type_) == rank


def test_order_key_is_time_then_rank_then_id() -> None:
    ended = task_event("task:ended", 100, "a")
    new = task_event("task:new", 100, "z")
    earlier = task_event("task:ended", 99, "zz")
    assert order_key(ended) == (100, 11, "a")
    assert sorted([ended, new, earlier], key=order_key) == [earlier, new, ended]
    twin = task_event("task:ended", 100, "b")
    assert order_key(ended) < order_key(twin)


def test_a_leg_ranks_by_the_stream_it_is_folded_in() -> None:
    leg = leg_event("connected", 100, "x")
    assert order_key(leg) == (100, 1, "x")
    assert order_key(leg, EntityKind.TASK) == (100, 10, "x")
    assert order_key(leg, EntityKind.TASK) < order_key(task_event("task:ended", 100, "a"))


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        # agent events: currentState, lower-cased
        (
            agent_event("agent:state_change", 5, "a", currentState="Idle"),
            agent_event("agent:state_change", 5, "b", currentState="idle", idleCodeId="x"),
            True,
        ),
        (
            agent_event("agent:state_change", 5, "a", currentState="idle"),
            agent_event("agent:state_change", 5, "b", currentState="available"),
            False,
        ),
        (
            agent_event("agent:state_change", 5, "a", currentState="idle"),
            agent_event("agent:state_change", 6, "b", currentState="idle"),
            False,
        ),
        (
            agent_event("agent:login", 5, "a"),
            agent_event("agent:login", 5, "b", source="/elsewhere"),
            True,
        ),
        (
            agent_event("agent:login", 5, "a", currentState="idle"),
            agent_event("agent:state_change", 5, "b", currentState="idle"),
            False,
        ),
        # capture: the file path
        (
            task_event("capture:available", 5, "a", filePath="/x.wav"),
            task_event("capture:available", 5, "b", filePath="/x.wav"),
            True,
        ),
        (
            task_event("capture:available", 5, "a", filePath="/x.wav"),
            task_event("capture:available", 5, "b", filePath="/y.wav"),
            False,
        ),
        # other events: no state part, so any data difference is the same event
        (
            task_event("task:connected", 5, "a", queueId="q1"),
            task_event("task:connected", 5, "b", queueId="q2"),
            True,
        ),
        (
            task_event("task:connected", 5, "a"),
            task_event("task:connect", 5, "b"),
            False,
        ),
    ],
)
def test_semantic_identity(left: Event, right: Event, same: bool) -> None:
    kind = left.entity_kind
    ident_l = semantic_identity(kind, left.entity_id, left)
    ident_r = semantic_identity(kind, right.entity_id, right)
    assert (ident_l == ident_r) is same


def test_semantic_identity_names_the_stream_entity() -> None:
    leg = leg_event("connected", 5, "a")
    ident = semantic_identity(EntityKind.TASK, TASK, leg)
    assert ident == ("task", "agent:state_change", TASK, 5, f"{AGENT}/connected")
    assert ident != semantic_identity(EntityKind.TASK, "task-2", leg)
    assert ident != semantic_identity(EntityKind.AGENT, TASK, leg)


def test_two_agents_reaching_one_state_on_a_task_in_one_ms_are_two_events() -> None:
    first = leg_event("conferencing", 5, "a", agent="agent-1")
    second = leg_event("conferencing", 5, "b", agent="agent-2")
    assert semantic_identity(EntityKind.TASK, TASK, first) != semantic_identity(
        EntityKind.TASK, TASK, second
    )
