"""The contract's fold order and event identity."""

from __future__ import annotations

import pytest

from tests.unit.contract_ranks import AGENT_RANK, OTHER_RANK, TASK_RANK
from tests.unit.event_builders import AGENT, TASK, agent_event, leg_event, task_event
from wxcc_stream.projections.event_order import order_key, semantic_identity, tiebreak
from wxcc_stream.schemas.event import EntityKind, Event

# the ranks are read from the table in docs/projections.md, not restated here, plus types
# the table does not name in a stream (ranked as "any other type")
AGENT_RANKS = [
    *sorted(AGENT_RANK.items()),
    ("agent:something_else", OTHER_RANK),
    ("task:new", OTHER_RANK),
    ("task:reconciled", OTHER_RANK),
]
TASK_RANKS = [
    *sorted(TASK_RANK.items()),
    ("task:unheard-of", OTHER_RANK),
    ("agent:login", OTHER_RANK),
    ("agent:reconciled", OTHER_RANK),
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
        # a file path names only a capture:available: other types (named by the contract
        # or not, sorting before or after it) carry none in their identity
        *(
            (
                task_event(type_, 5, "a", filePath="/x.wav"),
                task_event(type_, 5, "b", filePath="/y.wav"),
                True,
            )
            for type_ in ("capture:archived", "capture:deleted", "task:ended", "call:recorded")
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
