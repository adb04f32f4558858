"""Projection documents for the sink's tests, built by the real projections."""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from wxcc_stream.projections import (
    agent_document,
    document_bytes,
    initial_agent_state,
    initial_task,
    task_document,
)


def agent_doc(agent_id: str, revision: int, **fields: Any) -> dict[str, Any]:
    """An agent-state document at `revision` (state fields by their dataclass names)."""
    state = replace(initial_agent_state(agent_id), revision=revision, **fields)
    return agent_document(state)


def task_doc(task_id: str, revision: int, **fields: Any) -> dict[str, Any]:
    """A task-lifecycle document at `revision`."""
    return task_document(replace(initial_task(task_id), revision=revision, **fields))


def as_bytes(doc: dict[str, Any]) -> bytes:
    return document_bytes(doc)
