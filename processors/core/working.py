"""The working copy of one log during one pure step, frozen again by `finish`.

The step's jobs (dedupe, reorder, refold, horizon) change it in turn; a step is one call of
`core.step`, so nothing outside ever sees it half done.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from immutables import Map, MapMutation

from wxcc_stream.processors.core.log import EntityLog, EventRef, Held, SortKey
from wxcc_stream.processors.core.outcome import (
    NOTHING,
    BeyondHorizon,
    Conflict,
    Duplicate,
    Outcome,
)
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.storage.rows import decode_row
from wxcc_stream.projections.event_order import OTHER_RANK
from wxcc_stream.projections.registry import KINDS, ProjectionKind, ProjectionState
from wxcc_stream.schemas.event import Event

__all__ = ["Working"]


class Working:
    """One log, mutable for the length of one step, and what the step did so far."""

    __slots__ = (
        "base",
        "beyond",
        "buffer",
        "checkpoints",
        "conflicts",
        "decoded",
        "defaults",
        "dirty_from",
        "duplicates",
        "floor",
        "history",
        "index",
        "last_arrival",
        "late",
        "log",
        "now_ms",
        "pending",
        "policy",
        "ranks",
        "recent",
        "recomputed",
        "released",
        "restore_since",
        "spec",
        "state",
        "touched",
        "watermark",
    )

    def __init__(self, log: EntityLog, policy: Policy, now_ms: int) -> None:
        self.log = log
        self.policy = policy
        self.now_ms = now_ms
        self.spec: ProjectionKind = KINDS[log.kind]
        self.ranks = self.spec.ranks
        self.history = log.history.copy()  # shares the sealed runs
        self.buffer = list(log.buffer)
        # the derived maps are copied on their first change: a tick often changes none
        self.index: Map[EventRef, Held] | MapMutation[EventRef, Held] = log.index
        self.pending: Mapping[SortKey, Event] = log.pending
        self.checkpoints: Mapping[int, ProjectionState] = log.checkpoints
        self.recent = log.recent
        self.state = log.state
        self.base = log.base
        self.watermark = log.watermark
        self.floor = log.floor
        self.last_arrival = log.last_arrival_ms
        self.defaults = log.defaults
        # the earliest arrival of a held event this step saw again under its own id
        self.restore_since: int | None = None
        # first history position whose projection is stale (a late insert or removal)
        self.dirty_from: int | None = None
        self.recomputed = False
        self.touched = False  # anything in the log changed: build a new value in finish()
        # events of held rows this step has in hand, so none is decoded twice: by the row's
        # id, the row kept with its event so that the id stays its own
        self.decoded: dict[int, tuple[bytes, Event]] = {}
        self.released: list[Event] = []
        self.late: list[Event] = []
        self.duplicates: list[Duplicate] = []
        self.conflicts: list[Conflict] = []
        self.beyond: list[BeyondHorizon] = []

    # the derived maps, made this step's own to be changed (copied once)

    def own_index(self) -> MapMutation[EventRef, Held]:
        index = self.index
        if type(index) is Map:
            index = self.index = index.mutate()
        return index  # type: ignore[return-value]

    def own_pending(self) -> dict[SortKey, Event]:
        pending = self.pending
        if pending is self.log.pending or type(pending) is not dict:
            pending = self.pending = dict(pending)
        return pending

    def own_checkpoints(self) -> dict[int, ProjectionState]:
        checkpoints = self.checkpoints
        if checkpoints is self.log.checkpoints or type(checkpoints) is not dict:
            checkpoints = self.checkpoints = dict(checkpoints)
        return checkpoints

    def event_key(self, e: Event) -> SortKey:
        rank = self.ranks.get(e.type, OTHER_RANK)
        return (e.created_time, rank, e.ce_id, sys.intern(e.ce_source))

    def event_of(self, held: Held) -> Event:
        known = self.decoded.get(id(held.row))
        if known is not None and known[0] is held.row:
            return known[1]
        event = self.pending.get(held.key) if self.pending else None
        if event is None:
            event = decode_row(held.row, held.defaults)
        self.decoded[id(held.row)] = (held.row, event)
        return event

    def finish(self, compacted: bool = False) -> tuple[EntityLog, Outcome]:
        """The new log value (or the old one, unchanged) and the step's outcome."""
        log = self.log
        if self.touched or compacted or self.restore_since is not None:
            # positional, in field order: this runs once per step
            log = EntityLog(
                log.kind,
                log.entity_id,
                self.state,
                self.base,
                self.history,
                tuple(self.buffer),
                self.watermark,
                self.floor,
                self.last_arrival,
                self.defaults,
                self.index if isinstance(self.index, Map) else self.index.finish(),
                self.pending,
                self.checkpoints,
                self.recent,
            )
        if not (self.touched or compacted or self.duplicates or self.conflicts or self.beyond):
            return log, NOTHING
        # a late event adds a distinct event, except one that supersedes its semantic twin
        changed = bool(self.released) or (bool(self.late) and self.state != self.log.state)
        outcome = Outcome(
            tuple(self.released),
            tuple(self.late),
            tuple(self.duplicates),
            tuple(self.conflicts),
            tuple(self.beyond),
            changed,
            self.recomputed,
            compacted,
        )
        return log, outcome
