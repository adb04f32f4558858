"""The contract's event order and identity (docs/projections.md, "Event order and identity")."""

from __future__ import annotations

from collections.abc import Mapping

from wxcc_stream.schemas.event import EntityKind, Event

OTHER_RANK = 50
"""Tiebreak rank of any type the contract does not list."""

TIEBREAK: Mapping[EntityKind, Mapping[str, int]] = {
    EntityKind.AGENT: {
        "agent:login": 0,
        "agent:state_change": 1,
        "agent:channel_state_change": 1,
        "agent:logout": 2,
        "agent:reconciled": 3,  # the authoritative summary, after every fact it sums up
    },
    EntityKind.TASK: {
        "task:new": 0,
        "task:parked": 1,
        "task:connect": 2,
        "task:connected": 3,
        "task:on-hold": 4,
        "task:hold-done": 5,
        "task:consulting": 6,
        "task:consult-done": 7,
        "task:conferencing": 8,
        "task:conference-done": 9,
        "agent:state_change": 10,  # an agent's leg on the task
        "agent:channel_state_change": 10,
        "task:ended": 11,
        "capture:available": 12,
        "task:reconciled": 13,  # the authoritative summary, after every fact it sums up
    },
}

OrderKey = tuple[int, int, str]
SemanticIdentity = tuple[str, str, str, int, str]


def tiebreak(kind: EntityKind, type_: str) -> int:
    """The fixed rank of an event type within a stream (lower folds first)."""
    return TIEBREAK[kind].get(type_, OTHER_RANK)


def order_key(event: Event, kind: EntityKind | None = None) -> OrderKey:
    """(createdTime, tiebreak(type), ce id): the contract's total order within one entity.

    `kind` is the stream the event is folded in; it defaults to the event's own entity kind
    and matters for `agent:state_change`, which ranks differently in the task stream.
    """
    stream = event.entity_kind if kind is None else kind
    return (event.created_time, tiebreak(stream, event.type), event.ce_id)


def semantic_state(event: Event) -> str:
    """The `state` part of the semantic identity.

    `data.agentId` and lower-cased `data.currentState` for agent events (the agent id
    matters in the task stream, where two agents' legs may reach one state in the same ms),
    `data.filePath` for `capture:available`, empty otherwise.
    """
    if event.type.startswith("agent:"):
        value = event.data.get("currentState")
        agent = event.data.get("agentId")
        state = value.lower() if isinstance(value, str) else ""
        return f"{agent if isinstance(agent, str) else ''}/{state}"
    if event.type == "capture:available":
        path = event.data.get("filePath")
        return path if isinstance(path, str) else ""
    return ""


def semantic_identity(kind: EntityKind, entity_id: str, event: Event) -> SemanticIdentity:
    """(stream kind, type, entity id, createdTime, state): equal means the same event.

    `entity_id` is the id of the entity whose stream folds the event (the taskId for an
    agent leg folded in the task stream). The stream kind is included so identities from
    the two streams never compare equal.
    """
    return (kind, event.type, entity_id, event.created_time, semantic_state(event))
