"""The projection registry the per-entity log folds with (projections/registry.py): each
kind wires its own fold, document and table form, refuses the other kind's state, and says
when an entity is over (an ended task, a logged-out agent: docs/processors.md, expiry)."""

from __future__ import annotations

import orjson
import pytest

from tests.unit.event_builders import AGENT, TASK, agent_event, leg_event, task_event
from wxcc_stream.projections import (
    agent_document,
    evolve_agent,
    evolve_task,
    fold,
    initial_agent_state,
    initial_task,
    task_document,
)
from wxcc_stream.projections.registry import AGENT as AGENT_KIND
from wxcc_stream.projections.registry import KINDS
from wxcc_stream.projections.registry import TASK as TASK_KIND
from wxcc_stream.schemas.event import EntityKind, Event

AGENT_DAY = [
    agent_event("agent:login", 1_000, "l", currentState="idle"),
    agent_event("agent:state_change", 2_000, "a", currentState="available"),
    agent_event("agent:logout", 3_000, "o"),
]
TASK_DAY = [
    task_event("task:new", 1_000, "n"),
    task_event("task:connected", 2_000, "c"),
    leg_event("connected", 2_000, "leg"),
    task_event("task:ended", 3_000, "e"),
]


def test_kinds_are_keyed_by_their_stream() -> None:
    assert KINDS == {EntityKind.AGENT: AGENT_KIND, EntityKind.TASK: TASK_KIND}
    assert AGENT_KIND.kind is EntityKind.AGENT
    assert TASK_KIND.kind is EntityKind.TASK
    assert AGENT_KIND.ranks["agent:login"] == 0
    assert TASK_KIND.ranks["agent:state_change"] == 10


def test_each_kind_folds_renders_and_stores_its_own_projection() -> None:
    agent = fold(AGENT_DAY, AGENT_KIND.initial(AGENT), AGENT_KIND.evolve)
    assert agent == fold(AGENT_DAY, initial_agent_state(AGENT), evolve_agent)
    assert AGENT_KIND.document(agent) == agent_document(agent)
    assert AGENT_KIND.from_dict(AGENT_KIND.to_dict(agent)) == agent
    task = fold(TASK_DAY, TASK_KIND.initial(TASK), TASK_KIND.evolve)
    assert task == fold(TASK_DAY, initial_task(TASK), evolve_task)
    assert TASK_KIND.document(task) == task_document(task)
    assert TASK_KIND.from_dict(TASK_KIND.to_dict(task)) == task


def test_a_kind_refuses_the_other_kinds_state() -> None:
    agent, task = initial_agent_state(AGENT), initial_task(TASK)
    for call in (
        lambda: AGENT_KIND.evolve(task, AGENT_DAY[0]),
        lambda: AGENT_KIND.document(task),
        lambda: AGENT_KIND.is_terminal(task),
        lambda: AGENT_KIND.to_dict(task),
    ):
        with pytest.raises(TypeError, match="expected an AgentState"):
            call()
    for call in (
        lambda: TASK_KIND.evolve(agent, TASK_DAY[0]),
        lambda: TASK_KIND.document(agent),
        lambda: TASK_KIND.is_terminal(agent),
        lambda: TASK_KIND.to_dict(agent),
    ):
        with pytest.raises(TypeError, match="expected a TaskLifecycle"):
            call()


@pytest.mark.parametrize(
    ("folded", "over"),
    [
        (0, False),  # no event yet: not an agent that logged out
        (1, False),  # logged in
        (2, False),  # available
        (3, True),  # logged out
    ],
)
def test_an_agent_is_over_once_logged_out(folded: int, over: bool) -> None:
    state = fold(AGENT_DAY[:folded], initial_agent_state(AGENT), evolve_agent)
    assert AGENT_KIND.is_terminal(state) is over


@pytest.mark.parametrize(
    "only",
    [
        agent_event("agent:logout", 3_000, "o"),
        agent_event("agent:state_change", 3_000, "x", currentState="logged-out"),
    ],
)
def test_an_agent_whose_only_event_logs_it_out_is_over(only: Event) -> None:
    """Its login came before the stream (or was lost): one event, and it is logged out."""
    assert AGENT_KIND.is_terminal(evolve_agent(initial_agent_state(AGENT), only))


def test_an_agent_reporting_logged_out_is_over_and_a_new_login_reopens_it() -> None:
    out = fold(
        [*AGENT_DAY[:2], agent_event("agent:state_change", 2_500, "x", currentState="Logged-Out")],
        initial_agent_state(AGENT),
        evolve_agent,
    )
    assert AGENT_KIND.is_terminal(out)
    back = evolve_agent(out, agent_event("agent:login", 4_000, "l2"))
    assert not AGENT_KIND.is_terminal(back)


@pytest.mark.parametrize(("folded", "over"), [(0, False), (1, False), (3, False), (4, True)])
def test_a_task_is_over_once_ended(folded: int, over: bool) -> None:
    state = fold(TASK_DAY[:folded], initial_task(TASK), evolve_task)
    assert TASK_KIND.is_terminal(state) is over


def test_a_capture_after_the_end_keeps_the_task_over() -> None:
    ended = fold(TASK_DAY, initial_task(TASK), evolve_task)
    late = evolve_task(ended, task_event("capture:available", 9_000, "cap", filePath="/r.wav"))
    assert TASK_KIND.is_terminal(late)


def test_states_and_kinds_are_frozen_values() -> None:
    """Folding computes new values and never changes one in place (a table value, a cached
    state or a checkpoint may share it), and the states are hashable values."""
    agent = fold(AGENT_DAY, initial_agent_state(AGENT), evolve_agent)
    task = fold(TASK_DAY, initial_task(TASK), evolve_task)
    (_, leg), *_ = task.legs
    for value, field in (
        (agent, "revision"),
        (task, "revision"),
        (leg, "since"),
        (AGENT_KIND, "kind"),
        (TASK_KIND, "kind"),
    ):
        with pytest.raises(AttributeError):
            setattr(value, field, None)
    assert hash(agent) == hash(fold(AGENT_DAY, initial_agent_state(AGENT), evolve_agent))
    assert hash(task) == hash(fold(TASK_DAY, initial_task(TASK), evolve_task))


def test_entities_restored_from_their_stored_form_are_over_as_before() -> None:
    """A restarted worker reads its states back from JSON bytes: an ended task and a
    logged-out agent are still over (and compacted in time)."""
    for kind, state in (
        (TASK_KIND, fold(TASK_DAY, initial_task(TASK), evolve_task)),
        (AGENT_KIND, fold(AGENT_DAY, initial_agent_state(AGENT), evolve_agent)),
    ):
        restored = kind.from_dict(orjson.loads(orjson.dumps(kind.to_dict(state))))
        assert restored == state
        assert kind.is_terminal(restored)
