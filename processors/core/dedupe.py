"""Dedupe: the same (source, id) twice, or two events with one semantic identity.

The same (source, id) with the same payload is a duplicate, with another payload a conflict
(the first version is kept). Of two semantically equal events the smaller (source, id) is
kept, whichever came first (docs/projections.md, "Event order and identity").
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Final

from wxcc_stream.processors.core.history import History
from wxcc_stream.processors.core.log import EventRef, Held, SortKey
from wxcc_stream.processors.core.outcome import Conflict, Duplicate, DuplicateReason
from wxcc_stream.processors.core.refold import stale_from
from wxcc_stream.processors.core.working import Working
from wxcc_stream.projections.event_order import SemanticIdentity, semantic_identity
from wxcc_stream.schemas.event import Event, TimeSource

__all__ = ["DROPPED", "NEW", "REPLACES_FOLDED", "dedupe", "same_payload"]

NEW: Final = 0
"""Not seen before (it may have replaced a buffered twin): hold it."""
DROPPED: Final = 1
"""A duplicate or a conflict, reported: nothing more to do."""
REPLACES_FOLDED: Final = 2
"""It supersedes a folded twin, removed from the history: it takes the twin's place."""


def same_payload(a: Event, b: Event) -> bool:
    """Whether two events with the same (source, id) say the same thing.

    Envelope extras (received_at, extensions, reconciled) are not payload; a createdTime
    inferred from the arrival time differs between deliveries, so it is not compared.
    """
    inferred = a.time_source is TimeSource.RECEIVED_AT and b.time_source is TimeSource.RECEIVED_AT
    return (
        a.type == b.type
        and a.org_id == b.org_id
        and (inferred or a.created_time == b.created_time)
        and a.data == b.data
    )


def dedupe(w: Working, event: Event, key: SortKey, ref: EventRef) -> int:
    """Check `event` against the events the log holds: `NEW`, `DROPPED` or
    `REPLACES_FOLDED` (duplicates and conflicts are reported on `w`)."""
    seen_held = w.index.get(ref)
    if seen_held is not None:
        seen = w.event_of(seen_held)
        if same_payload(seen, event):
            w.duplicates.append(Duplicate(event, seen, DuplicateReason.SAME_ID))
            # perhaps a replay after a crash: what was stored since may be lost (chunks.py)
            if w.restore_since is None or seen_held.arrived_ms < w.restore_since:
                w.restore_since = seen_held.arrived_ms
        else:
            w.conflicts.append(Conflict(kept=seen, rejected=event))
        return DROPPED
    match = _semantic_match(w, event, key)
    if match is None:
        return NEW
    in_history, position = match
    other_held = w.history[position] if in_history else w.buffer[position]
    other = w.event_of(other_held)
    if ref > other_held.ref:
        w.duplicates.append(Duplicate(event, other, DuplicateReason.SEMANTIC))
        return DROPPED
    w.duplicates.append(Duplicate(other, event, DuplicateReason.SUPERSEDED))
    del w.own_index()[other_held.ref]
    if other_held.key in w.pending:
        del w.own_pending()[other_held.key]
    if in_history:
        w.history.remove(position, w.now_ms)
        stale_from(w, position)
        return REPLACES_FOLDED
    del w.buffer[position]
    return NEW


def _prefix(held: Held) -> tuple[int, int]:
    return held.key[:2]


def _semantic_match(w: Working, event: Event, key: SortKey) -> tuple[bool, int] | None:
    """(in the history, position) of a held event with the same semantic identity: same
    createdTime and type, so the same (createdTime, tiebreak) prefix of the sort key, so
    adjacent in a sorted sequence."""
    identity: SemanticIdentity | None = None
    prefix = key[:2]
    kind, entity_id = w.log.kind, w.log.entity_id
    for in_history, entries in ((True, w.history), (False, w.buffer)):
        if not entries or entries[-1].key[0] < key[0]:
            continue
        if isinstance(entries, History):
            i = entries.bisect(prefix)
        else:
            i = bisect_left(entries, prefix, key=_prefix)
        while i < len(entries) and entries[i].key[:2] == prefix:
            if identity is None:
                identity = semantic_identity(kind, entity_id, event)
            other = w.event_of(entries[i])
            if semantic_identity(kind, entity_id, other) == identity:
                return in_history, i
            i += 1
    return None
