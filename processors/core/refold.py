"""Late correction: an event behind released ones is inserted and the projection refolded.

The refold starts at the last projection known before the insert: a checkpoint (one every
`CHECKPOINT_EVERY` revisions), the projection before the newest event, or the base.
"""

from __future__ import annotations

from wxcc_stream.processors.core.held import Held
from wxcc_stream.processors.core.working import Working
from wxcc_stream.projections.registry import ProjectionState
from wxcc_stream.schemas.event import Event

__all__ = ["CHECKPOINT_EVERY", "insert_late", "settle", "stale_from", "state_after"]

CHECKPOINT_EVERY = 16
"""The projection after a history event is cached when its revision is a multiple of this:
a late correction refolds at most this many more events, for 1/16 of the states kept."""


def insert_late(w: Working, held: Held, event: Event) -> None:
    """Put an event into the history behind released ones: a late event."""
    position = w.history.bisect(held.key)
    w.history.insert(position, held, w.now_ms)
    stale_from(w, position)
    w.late.append(event)


def stale_from(w: Working, position: int) -> None:
    """The projections after history position `position` on are no longer known."""
    if w.dirty_from is None or position < w.dirty_from:
        w.dirty_from = position
    # the projection after history position i is that of revision base + i + 1
    last_good = w.base.revision + position
    if w.recent is not None and w.recent.revision > last_good:
        w.recent = None
    # checkpoints are kept in ascending revision order (every one added is newer than those
    # left), so the newest is last (dicts and mapping proxies reverse; typeshed's KeysView
    # does not say so)
    newest = next(reversed(w.checkpoints.keys()), 0)  # type: ignore[call-overload]
    if newest > last_good:
        checkpoints = w.own_checkpoints()
        for revision in [r for r in checkpoints if r > last_good]:
            del checkpoints[revision]


def state_after(w: Working, count: int) -> ProjectionState:
    """The projection after the first `count` history events, refolding only from the
    last known state before them (a checkpoint, or the base)."""
    dirty = w.dirty_from
    start = dirty if dirty is not None and dirty < count else count
    base = w.base.revision
    revision = (base + start) // CHECKPOINT_EVERY * CHECKPOINT_EVERY
    while revision > base and revision not in w.checkpoints:
        revision -= CHECKPOINT_EVERY
    state = w.checkpoints[revision] if revision > base else w.base
    recent = w.recent
    if recent is not None and state.revision < recent.revision <= base + start:
        state = recent
    history = w.history
    evolve = w.spec.evolve
    before = state
    for held in history.range(state.revision - base, count):
        before = state
        state = evolve(before, w.event_of(held))
        if not state.revision % CHECKPOINT_EVERY:
            w.own_checkpoints()[state.revision] = state
    if count == len(history) and before is not state:
        w.recent = before if before.revision > base else None
    if w.dirty_from is not None and w.dirty_from < count:
        w.dirty_from = count if count < len(history) else None
    return state


def settle(w: Working) -> None:
    """Refold the history from the first stale position, if a late event made one."""
    if w.dirty_from is not None:
        w.recomputed = w.touched = True
        w.state = state_after(w, len(w.history))
