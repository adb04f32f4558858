"""The reorder buffer: events wait in contract order until the watermark (the newest
createdTime seen) passes them by the grace, or they have waited the flush timeout."""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable

from wxcc_stream.processors.core.log import NONE, Held, SortKey, held_key
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.refold import CHECKPOINT_EVERY
from wxcc_stream.processors.core.working import Working
from wxcc_stream.schemas.event import Event

__all__ = ["buffer", "due_count", "release", "release_all", "release_due"]


def buffer(w: Working, held: Held, key: SortKey, event: Event) -> None:
    """Hold an event until it is due, its decoded form kept so it is not decoded again."""
    insort(w.buffer, held, key=held_key)
    w.own_pending()[key] = event


def due_count(buffered: Iterable[Held], watermark: int | None, now_ms: int, policy: Policy) -> int:
    """How many buffered events are released: up to the last one that is due, by event time
    (watermark - grace) or by processing time (waited flush_timeout); earlier ones go too."""
    if watermark is None:
        return 0
    limit = watermark - policy.grace_ms
    timeout = policy.flush_timeout_ms
    count = 0
    for i, held in enumerate(buffered, 1):
        if held.key[0] <= limit or now_ms - held.arrived_ms >= timeout:
            count = i
    return count


def release(w: Working, count: int) -> None:
    """Fold the first `count` buffered events, in order."""
    if count <= 0:
        return
    w.touched = True
    evolve = w.spec.evolve
    released = w.buffer[:count]
    before = w.state
    for held in released:
        event = w.event_of(held)
        w.released.append(event)
        if w.dirty_from is None:
            before = w.state
            w.state = evolve(before, event)
            if not w.state.revision % CHECKPOINT_EVERY:
                w.own_checkpoints()[w.state.revision] = w.state
        w.history.append(held)
    del w.buffer[:count]
    if w.dirty_from is None:
        w.recent = before if before.revision > w.base.revision else None
    if w.pending:
        pending = w.own_pending()
        for held in released:
            pending.pop(held.key, None)
        if not pending:
            w.pending = NONE


def release_due(w: Working, now_ms: int) -> None:
    """Release what is due at processing time `now_ms`."""
    release(w, due_count(w.buffer, w.watermark, now_ms, w.policy))


def release_all(w: Working) -> None:
    """Release every buffered event (a drain)."""
    release(w, len(w.buffer))
