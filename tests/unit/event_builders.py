"""Small builders of normalised events for the fold, ordering and entity-log tests."""

from __future__ import annotations

from typing import Any

from wxcc_stream.schemas.event import EntityKind, Event

SOURCE = "/com/cisco/wxcc/sub-1"
ORG = "org-1"
AGENT = "agent-1"
TASK = "task-1"


def agent_event(
    type_: str,
    t: int,
    ce_id: str,
    *,
    agent: str = AGENT,
    source: str = SOURCE,
    org: str | None = ORG,
    **data: Any,
) -> Event:
    """An `agent:*` event of `agent` (its data carries agentId plus `data`)."""
    return Event(
        entity_kind=EntityKind.AGENT,
        entity_id=agent,
        type=type_,
        created_time=t,
        ce_id=ce_id,
        ce_source=source,
        org_id=org,
        data={"agentId": agent, **data},
    )


def task_event(
    type_: str,
    t: int,
    ce_id: str,
    *,
    task: str = TASK,
    source: str = SOURCE,
    org: str | None = ORG,
    **data: Any,
) -> Event:
    """A `task:*` or `capture:*` event of `task` (its data carries taskId plus `data`)."""
    return Event(
        entity_kind=EntityKind.TASK,
        entity_id=task,
        type=type_,
        created_time=t,
        ce_id=ce_id,
        ce_source=source,
        org_id=org,
        data={"taskId": task, **data},
    )


def leg_event(
    state: str,
    t: int,
    ce_id: str,
    *,
    agent: str = AGENT,
    task: str = TASK,
    source: str = SOURCE,
    type_: str = "agent:state_change",
    **data: Any,
) -> Event:
    """An `agent:state_change` (or `type_`) of `agent` on `task` (a task leg)."""
    return agent_event(
        type_,
        t,
        ce_id,
        agent=agent,
        source=source,
        currentState=state,
        taskId=task,
        **data,
    )
