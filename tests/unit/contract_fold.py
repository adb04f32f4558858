"""The contract's fold of one entity's events, as the summary property tests use it:
dedupe by semantic identity (the smaller (source, id) kept), then fold in the contract's
order (docs/projections.md, "Event order and identity")."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from wxcc_stream.projections.event_order import order_key, semantic_identity
from wxcc_stream.schemas.event import EntityKind, Event

S = TypeVar("S")


def contract_fold(
    kind: EntityKind,
    entity_id: str,
    events: Iterable[Event],
    initial: Callable[[str], S],
    evolve: Callable[[S, Event], S],
    document: Callable[[S], dict[str, Any]],
) -> dict[str, Any]:
    """The entity's document after its events, whatever their order and duplicates."""
    kept: dict[Any, Event] = {}
    for event in events:
        identity = semantic_identity(kind, entity_id, event)
        held = kept.get(identity)
        if held is None or (event.ce_source, event.ce_id) < (held.ce_source, held.ce_id):
            kept[identity] = event
    state = initial(entity_id)
    for event in sorted(kept.values(), key=lambda e: order_key(e, kind)):
        state = evolve(state, event)
    return document(state)
