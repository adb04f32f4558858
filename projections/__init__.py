"""Pure projections: agent-state and task-lifecycle folds (docs/projections.md).

No I/O here: each projection is a frozen state, an `evolve(state, event) -> state` dispatched
per event type, and a `*_document(state)` that renders the contract's JSON document.
"""

from wxcc_stream.projections.agent_state import (
    agent_document,
    agent_state_from_dict,
    agent_state_to_dict,
    evolve_agent,
    initial_agent_state,
)
from wxcc_stream.projections.fold import SCHEMA_VERSION, document_bytes, fold
from wxcc_stream.projections.states import AgentState, Leg, TaskLifecycle
from wxcc_stream.projections.task_lifecycle import (
    evolve_task,
    initial_task,
    task_document,
    task_from_dict,
    task_to_dict,
)

__all__ = [
    "SCHEMA_VERSION",
    "AgentState",
    "Leg",
    "TaskLifecycle",
    "agent_document",
    "agent_state_from_dict",
    "agent_state_to_dict",
    "document_bytes",
    "evolve_agent",
    "evolve_task",
    "fold",
    "initial_agent_state",
    "initial_task",
    "task_document",
    "task_from_dict",
    "task_to_dict",
]
