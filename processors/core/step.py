"""One step of a per-entity log: take events, release what is due, prune, report.

Every function here is pure: it takes a log and returns a new log and an `Outcome`; the
input log is never changed (the life of an event: docs/processors.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from wxcc_stream.processors.core.dedupe import DROPPED, REPLACES_FOLDED, dedupe
from wxcc_stream.processors.core.horizon import beyond, compact, prune, quiet, set_aside
from wxcc_stream.processors.core.log import EntityLog, Held
from wxcc_stream.processors.core.outcome import NOTHING, Outcome
from wxcc_stream.processors.core.policy import OnLate, Policy
from wxcc_stream.processors.core.refold import insert_late, settle
from wxcc_stream.processors.core.reorder import buffer, due_count, release, release_all
from wxcc_stream.processors.core.reorder import release_due as release_due_in
from wxcc_stream.processors.core.working import Working
from wxcc_stream.processors.storage.rows import encode_row
from wxcc_stream.projections.registry import KINDS
from wxcc_stream.schemas.event import Event

__all__ = ["accept", "accept_many", "drain", "next_wakeup_ms", "release_due"]


def _take(w: Working, event: Event, now_ms: int) -> None:
    """One event into the working log: reported, dropped, late, or buffered."""
    t = event.created_time
    if w.floor is not None and t < w.floor:
        beyond(w, event)
        return
    key = w.event_key(event)
    ref = (key[3], key[2])
    verdict = dedupe(w, event, key, ref)
    if verdict == DROPPED:
        return
    replaces_folded = verdict == REPLACES_FOLDED
    late = not replaces_folded and bool(w.history) and key < w.history.last().key
    if late and w.policy.on_late is OnLate.SET_ASIDE:
        set_aside(w, event)
        return
    if w.defaults is None:
        w.defaults = (key[3], event.org_id)
    # encoded only now that it is kept
    held = Held(key, now_ms, encode_row(event, now_ms, w.defaults), w.defaults)
    w.decoded[id(held.row)] = (held.row, event)
    w.touched = True
    w.own_index()[ref] = held
    w.last_arrival = now_ms
    if w.watermark is None or t > w.watermark:
        w.watermark = t
    if replaces_folded:
        # it takes the folded place of the event it replaces, now, so the revision never
        # dips; buffered events sorting before it are released first
        release(w, sum(1 for h in w.buffer if h.key < key))
        insert_late(w, held, event)
    elif late:
        insert_late(w, held, event)
    else:
        buffer(w, held, key, event)


def accept_many(
    log: EntityLog, events: Iterable[Event], *, now_ms: int, policy: Policy
) -> tuple[EntityLog, Outcome]:
    """Take a batch of this entity's events (any order, duplicates allowed) at processing
    time `now_ms`, then release what is due and prune what is past the horizon."""
    w = Working(log, policy, now_ms)
    for event in events:
        _take(w, event, now_ms)
    release_due_in(w, now_ms)
    settle(w)
    prune(w)
    w.history.seal(w.now_ms, w.restore_since)
    return w.finish()


def accept(
    log: EntityLog, event: Event, *, now_ms: int, policy: Policy
) -> tuple[EntityLog, Outcome]:
    """Take one event; see `accept_many`."""
    return accept_many(log, (event,), now_ms=now_ms, policy=policy)


def release_due(log: EntityLog, *, now_ms: int, policy: Policy) -> tuple[EntityLog, Outcome]:
    """The processing-time flush (call it on a timer tick): release the buffered events that
    are due at `now_ms` and compact a quiet ended entity. Returns `log` itself when idle."""
    due = due_count(log.buffer, log.watermark, now_ms, policy)
    compactable = (
        not log.buffer
        and bool(log.history)
        and quiet(log.last_arrival_ms, now_ms, policy)
        and KINDS[log.kind].is_terminal(log.state)
    )
    if not due and not compactable:
        return log, NOTHING
    w = Working(log, policy, now_ms)
    release_due_in(w, now_ms)
    settle(w)
    prune(w)
    compacted = compact(w, now_ms)
    w.history.seal(w.now_ms, w.restore_since)
    return w.finish(compacted=compacted)


def drain(log: EntityLog, *, policy: Policy) -> tuple[EntityLog, Outcome]:
    """Release every buffered event now (end of a replay, or an orderly hand-over)."""
    if not log.buffer:
        return log, NOTHING
    # chunks sealed here are stamped with the newest arrival: no processing time is given
    w = Working(log, policy, log.last_arrival_ms or 0)
    release_all(w)
    settle(w)
    prune(w)
    w.history.seal(w.now_ms, w.restore_since)
    return w.finish()


def next_wakeup_ms(log: EntityLog, *, policy: Policy) -> int | None:
    """The processing time at which `release_due` will next have work, or None."""
    if log.buffer:
        return min(h.arrived_ms for h in log.buffer) + policy.flush_timeout_ms
    if log.history and log.last_arrival_ms is not None and KINDS[log.kind].is_terminal(log.state):
        return log.last_arrival_ms + policy.horizon_ms
    return None
