"""The two projections behind a common shape (the registry the per-entity log folds with)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wxcc_stream.projections.agent_state import (
    agent_document,
    agent_state_from_dict,
    agent_state_to_dict,
    evolve_agent,
    initial_agent_state,
    is_agent_terminal,
)
from wxcc_stream.projections.event_order import TIEBREAK
from wxcc_stream.projections.states import AgentState, TaskLifecycle
from wxcc_stream.projections.task_lifecycle import (
    evolve_task,
    initial_task,
    is_task_terminal,
    task_document,
    task_from_dict,
    task_to_dict,
)
from wxcc_stream.schemas.event import EntityKind, Event

ProjectionState = AgentState | TaskLifecycle


@dataclass(frozen=True, slots=True)
class ProjectionKind:
    """What the per-entity log needs to know about one projection."""

    kind: EntityKind
    ranks: Mapping[str, int]
    initial: Callable[[str], ProjectionState]
    evolve: Callable[[ProjectionState, Event], ProjectionState]
    document: Callable[[ProjectionState], dict[str, Any]]
    is_terminal: Callable[[ProjectionState], bool]
    to_dict: Callable[[ProjectionState], dict[str, Any]]
    from_dict: Callable[[Mapping[str, Any]], ProjectionState]


def _agent(state: ProjectionState) -> AgentState:
    if not isinstance(state, AgentState):
        raise TypeError(f"expected an AgentState, got {type(state).__name__}")
    return state


def _task(state: ProjectionState) -> TaskLifecycle:
    if not isinstance(state, TaskLifecycle):
        raise TypeError(f"expected a TaskLifecycle, got {type(state).__name__}")
    return state


AGENT = ProjectionKind(
    kind=EntityKind.AGENT,
    ranks=TIEBREAK[EntityKind.AGENT],
    initial=initial_agent_state,
    evolve=lambda state, event: evolve_agent(_agent(state), event),
    document=lambda state: agent_document(_agent(state)),
    is_terminal=lambda state: is_agent_terminal(_agent(state)),
    to_dict=lambda state: agent_state_to_dict(_agent(state)),
    from_dict=agent_state_from_dict,
)

TASK = ProjectionKind(
    kind=EntityKind.TASK,
    ranks=TIEBREAK[EntityKind.TASK],
    initial=initial_task,
    evolve=lambda state, event: evolve_task(_task(state), event),
    document=lambda state: task_document(_task(state)),
    is_terminal=lambda state: is_task_terminal(_task(state)),
    to_dict=lambda state: task_to_dict(_task(state)),
    from_dict=task_from_dict,
)

KINDS: Mapping[EntityKind, ProjectionKind] = {EntityKind.AGENT: AGENT, EntityKind.TASK: TASK}
