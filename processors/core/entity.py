"""The per-entity log: dedupe, reorder buffer, retained history and projection in one value.

One `EntityLog` is what one Faust table row holds for one agent or task (one table write per
entity per batch, design §7). Every function here is pure: it takes a log and returns a new
log and an `Outcome`; the input log is never changed.

Life of an event (docs/projections.md gives the order and identity rules):

1. older than the retained history (`createdTime < floor`): reported `beyond_horizon`;
2. same (source, id) as a held event: a duplicate, or a conflict if the payload differs;
3. semantically equal to a held event: the smaller (source, id) is kept, the other reported;
4. behind the last folded event: inserted into the history and the projection refolded
   from there, starting at the state cached before it (`late`);
5. otherwise buffered, and released in contract order once the watermark (max createdTime
   seen) passes it by `grace_ms` or it has waited `flush_timeout_ms` of processing time.

History and seen-set are bounded by event time: events older than `watermark - horizon_ms`
are folded into `base` and forgotten. An ended task or logged-out agent that stays quiet for
`horizon_ms` of processing time keeps only its final projection.

A log is kept for hours by thousands of entities, so the history is lean: each event is held
as its compact JSON row (`processors.storage.rows`, the bytes the table value is joined from) and
decoded again only when it is folded again (a late correction, a prune) or compared (a
duplicate); the projection is cached only every `CHECKPOINT_EVERY` revisions, so a prune
folds the pruned events into the base once more.
"""

from __future__ import annotations

import sys
from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from types import MappingProxyType
from typing import Any, NamedTuple

from wxcc_stream.processors.core.outcome import (
    NOTHING,
    BeyondHorizon,
    BeyondReason,
    Conflict,
    Duplicate,
    DuplicateReason,
    Outcome,
)
from wxcc_stream.processors.errors import ProcessorError
from wxcc_stream.processors.storage.rows import Defaults, decode_row, encode_row
from wxcc_stream.projections.event_order import OTHER_RANK, SemanticIdentity, semantic_identity
from wxcc_stream.projections.fold import document_bytes
from wxcc_stream.projections.registry import KINDS, ProjectionKind, ProjectionState
from wxcc_stream.schemas.event import EntityKind, Event, TimeSource

EventRef = tuple[str, str]
"""(source, id): the vendor's identity of an event."""
SortKey = tuple[int, int, str, str]
"""The contract order (createdTime, tiebreak, id), then source so the order is total."""

CHECKPOINT_EVERY = 16
"""The projection after a history event is cached when its revision is a multiple of this:
a late correction refolds at most this many more events, for 1/16 of the states kept."""


class PolicyError(ProcessorError, ValueError):
    """A policy value that cannot work (for example a horizon shorter than the grace)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """How long to wait for stragglers and how much history to keep (passed in, never global)."""

    grace_ms: int = 3_000
    flush_timeout_ms: int = 2_000
    horizon_ms: int = 6 * 60 * 60 * 1000

    def __post_init__(self) -> None:
        if self.grace_ms < 0:
            raise PolicyError(f"grace_ms must be 0 or more, got {self.grace_ms}")
        if self.flush_timeout_ms <= 0:
            raise PolicyError(f"flush_timeout_ms must be positive, got {self.flush_timeout_ms}")
        if self.horizon_ms <= self.grace_ms:
            # every event must be released before it can be pruned
            raise PolicyError(
                f"horizon_ms ({self.horizon_ms}) must be greater than grace_ms ({self.grace_ms})"
            )


class Held(NamedTuple):
    """An event the log holds: its sort key, processing-time arrival and row.

    Immutable, and the same value from arrival to pruning. A NamedTuple rather than a frozen
    dataclass: one is built for every event taken, and a frozen dataclass costs about four
    times as much to build.
    """

    key: SortKey
    arrived_ms: int
    # encoded once on arrival, so writing the table value does not re-encode the history
    row: bytes
    defaults: Defaults  # the log's, shared: what the row leaves out

    @property
    def event(self) -> Event:
        """The event, decoded from the row."""
        return decode_row(self.row, self.defaults)

    @property
    def ref(self) -> EventRef:
        """(source, id)."""
        return (self.key[3], self.key[2])


_held_key = attrgetter("key")


def _prefix(held: Held) -> tuple[int, int]:
    return held.key[:2]


def sort_key(kind: EntityKind, event: Event) -> SortKey:
    """The event's place in the stream of `kind` (the source shared: every row holds it)."""
    rank = KINDS[kind].ranks.get(event.type, OTHER_RANK)
    return (event.created_time, rank, event.ce_id, sys.intern(event.ce_source))


def hold(kind: EntityKind, event: Event, arrived_ms: int, defaults: Defaults) -> Held:
    """Wrap an event for the log of stream `kind`, whose rows leave out `defaults`."""
    row = encode_row(event, arrived_ms, defaults)
    return Held(sort_key(kind, event), arrived_ms, row, defaults)


_NONE: Mapping[Any, Any] = MappingProxyType({})
"""The empty derived map: shared, where a fresh one would cost 64 B or more per log."""


def _none() -> Mapping[Any, Any]:
    return _NONE


def _index(entries: Iterable[Held]) -> dict[EventRef, Held]:
    return {h.ref: h for h in entries}


@dataclass(frozen=True, slots=True)
class EntityLog:
    """Everything one entity's stream needs: one Faust table value.

    `state` is the projection after every folded event; `base` is the projection of the
    events pruned from `history` (all older than `floor`); `history` holds the folded events
    still retained and `buffer` those waiting for release, both in contract order, every
    buffered event after every folded one. `defaults` are what the held rows leave out, set
    by the first event held.

    The rest is derived and not compared: `index` is the seen-set, (source, id) -> held
    event; `pending` the decoded events of buffered entries taken in this process, by sort
    key, so they are not decoded again to be released; `checkpoints` the projection after
    the history event of each revision that is a multiple of `CHECKPOINT_EVERY`, where known;
    `recent` the projection before the newest history event, where known: most late events
    land just before the newest one, and refold from there. A decoded log starts with none.
    """

    kind: EntityKind
    entity_id: str
    state: ProjectionState
    base: ProjectionState
    history: tuple[Held, ...] = ()
    buffer: tuple[Held, ...] = ()
    watermark: int | None = None
    floor: int | None = None
    last_arrival_ms: int | None = None
    defaults: Defaults | None = None
    index: Mapping[EventRef, Held] = field(default_factory=_none, compare=False, repr=False)
    pending: Mapping[SortKey, Event] = field(default_factory=_none, compare=False, repr=False)
    checkpoints: Mapping[int, ProjectionState] = field(
        default_factory=_none, compare=False, repr=False
    )
    recent: ProjectionState | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.index and (self.history or self.buffer):
            object.__setattr__(self, "index", _index((*self.history, *self.buffer)))


def new_log(kind: EntityKind, entity_id: str) -> EntityLog:
    """The log of an entity that has seen nothing yet."""
    initial = KINDS[kind].initial(entity_id)
    return EntityLog(kind=kind, entity_id=entity_id, state=initial, base=initial)


def _same_payload(a: Event, b: Event) -> bool:
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


class _Step:
    """The mutable working copy of one log during one pure step; frozen again by `finish`."""

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
        "pending",
        "policy",
        "ranks",
        "recent",
        "recomputed",
        "released",
        "spec",
        "state",
        "touched",
        "watermark",
    )

    def __init__(self, log: EntityLog, policy: Policy) -> None:
        self.log = log
        self.policy = policy
        self.spec: ProjectionKind = KINDS[log.kind]
        self.ranks = self.spec.ranks
        self.history = list(log.history)
        self.buffer = list(log.buffer)
        # the derived maps are copied on their first change: a tick often changes none
        self.index: Mapping[EventRef, Held] = log.index
        self.pending: Mapping[SortKey, Event] = log.pending
        self.checkpoints: Mapping[int, ProjectionState] = log.checkpoints
        self.recent = log.recent
        self.state = log.state
        self.base = log.base
        self.watermark = log.watermark
        self.floor = log.floor
        self.last_arrival = log.last_arrival_ms
        self.defaults = log.defaults
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

    def own_index(self) -> dict[EventRef, Held]:
        index = self.index
        if index is self.log.index or type(index) is not dict:
            index = self.index = dict(index)
        return index

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

    def accept(self, event: Event, now_ms: int) -> None:
        t = event.created_time
        if self.floor is not None and t < self.floor:
            self._beyond(event)
            return
        key = self.event_key(event)
        ref = (key[3], key[2])
        seen_held = self.index.get(ref)
        if seen_held is not None:
            seen = self.event_of(seen_held)
            if _same_payload(seen, event):
                self.duplicates.append(Duplicate(event, seen, DuplicateReason.SAME_ID))
            else:
                self.conflicts.append(Conflict(kept=seen, rejected=event))
            return
        replaced_folded = False
        match = self._semantic_match(event, key)
        if match is not None:
            entries, position = match
            other_held = entries[position]
            other = self.event_of(other_held)
            if ref > other_held.ref:
                self.duplicates.append(Duplicate(event, other, DuplicateReason.SEMANTIC))
                return
            self.duplicates.append(Duplicate(other, event, DuplicateReason.SUPERSEDED))
            del self.own_index()[other_held.ref]
            if other_held.key in self.pending:
                del self.own_pending()[other_held.key]
            del entries[position]
            if entries is self.history:
                replaced_folded = True
                self._stale_from(position)
        if self.defaults is None:
            self.defaults = (key[3], event.org_id)
        # encoded only now that it is kept
        held = Held(key, now_ms, encode_row(event, now_ms, self.defaults), self.defaults)
        self.decoded[id(held.row)] = (held.row, event)
        self.touched = True
        self.own_index()[ref] = held
        self.last_arrival = now_ms
        if self.watermark is None or t > self.watermark:
            self.watermark = t
        if replaced_folded:
            # it takes the folded place of the event it replaces, now, so the revision
            # never dips; buffered events sorting before it are released first
            self._release(sum(1 for h in self.buffer if h.key < key))
            self._insert_folded(held, event)
        elif self.history and key < self.history[-1].key:
            self._insert_folded(held, event)
        else:
            insort(self.buffer, held, key=_held_key)
            self.own_pending()[key] = event  # so it is not decoded again to be released

    def _insert_folded(self, held: Held, event: Event) -> None:
        """Put an event into the history behind released ones: a late event."""
        position = bisect_left(self.history, held.key, key=_held_key)
        self.history.insert(position, held)
        self._stale_from(position)
        self.late.append(event)

    def _stale_from(self, position: int) -> None:
        """The projections after history position `position` on are no longer known."""
        if self.dirty_from is None or position < self.dirty_from:
            self.dirty_from = position
        # the projection after history position i is that of revision base + i + 1
        last_good = self.base.revision + position
        if self.recent is not None and self.recent.revision > last_good:
            self.recent = None
        if any(revision > last_good for revision in self.checkpoints):
            checkpoints = self.own_checkpoints()
            for revision in [r for r in checkpoints if r > last_good]:
                del checkpoints[revision]

    def _semantic_match(self, event: Event, key: SortKey) -> tuple[list[Held], int] | None:
        """A held event with the same semantic identity: same createdTime and type, so the
        same (createdTime, tiebreak) prefix of the sort key, so adjacent in a sorted list."""
        identity: SemanticIdentity | None = None
        prefix = key[:2]
        for entries in (self.history, self.buffer):
            if not entries or entries[-1].key[0] < key[0]:
                continue
            i = bisect_left(entries, prefix, key=_prefix)
            while i < len(entries) and entries[i].key[:2] == prefix:
                if identity is None:
                    identity = semantic_identity(self.log.kind, self.log.entity_id, event)
                other = self.event_of(entries[i])
                if semantic_identity(self.log.kind, self.log.entity_id, other) == identity:
                    return entries, i
                i += 1
        return None

    def _beyond(self, event: Event) -> None:
        # a floor is only ever set together with a watermark
        assert self.watermark is not None
        assert self.floor is not None
        reason = (
            BeyondReason.HORIZON
            if event.created_time < self.watermark - self.policy.horizon_ms
            else BeyondReason.COMPACTED
        )
        self.beyond.append(
            BeyondHorizon(
                event=event,
                kind=self.log.kind,
                entity_id=self.log.entity_id,
                watermark=self.watermark,
                floor=self.floor,
                reason=reason,
            )
        )

    def _release(self, count: int) -> None:
        """Fold the first `count` buffered events, in order."""
        if count <= 0:
            return
        self.touched = True
        evolve = self.spec.evolve
        released = self.buffer[:count]
        before = self.state
        for held in released:
            event = self.event_of(held)
            self.released.append(event)
            if self.dirty_from is None:
                before = self.state
                self.state = evolve(before, event)
                if not self.state.revision % CHECKPOINT_EVERY:
                    self.own_checkpoints()[self.state.revision] = self.state
            self.history.append(held)
        del self.buffer[:count]
        if self.dirty_from is None:
            self.recent = before if before.revision > self.base.revision else None
        if self.pending:
            pending = self.own_pending()
            for held in released:
                pending.pop(held.key, None)
            if not pending:
                self.pending = _NONE

    def release_due(self, now_ms: int) -> None:
        self._release(_due_count(self.buffer, self.watermark, now_ms, self.policy))

    def release_all(self) -> None:
        self._release(len(self.buffer))

    def prune(self) -> None:
        """Fold events older than `watermark - horizon` into `base` and forget them."""
        if self.watermark is None:
            return
        target = self.watermark - self.policy.horizon_ms
        if self.floor is None or target > self.floor:
            self.floor = target
            self.touched = True
        floor = self.floor
        # grace < horizon, so these are due already; release them before pruning regardless
        self._release(sum(1 for h in self.buffer if h.key[0] < floor))
        count = 0
        for held in self.history:
            if held.key[0] >= floor:
                break
            count += 1
        if count:
            self.touched = True
            # the base moves forward by the pruned events (each is folded here once more)
            self.base = self._state_after(count)
            index = self.own_index()
            for held in self.history[:count]:
                key = held.key
                del index[key[3], key[2]]
            del self.history[:count]
            base = self.base.revision
            if self.recent is not None and self.recent.revision <= base:
                self.recent = None
            if any(revision <= base for revision in self.checkpoints):
                checkpoints = self.own_checkpoints()
                for revision in [r for r in checkpoints if r <= base]:
                    del checkpoints[revision]

    def _state_after(self, count: int) -> ProjectionState:
        """The projection after the first `count` history events, refolding only from the
        last known state before them (a checkpoint, or the base)."""
        if self.dirty_from is not None and self.dirty_from < count:
            start = self.dirty_from
        else:
            start = count
        base = self.base.revision
        revision = (base + start) // CHECKPOINT_EVERY * CHECKPOINT_EVERY
        while revision > base and revision not in self.checkpoints:
            revision -= CHECKPOINT_EVERY
        state = self.checkpoints[revision] if revision > base else self.base
        recent = self.recent
        if recent is not None and state.revision < recent.revision <= base + start:
            state = recent
        history = self.history
        evolve = self.spec.evolve
        before = state
        for i in range(state.revision - base, count):
            before = state
            state = evolve(before, self.event_of(history[i]))
            if not state.revision % CHECKPOINT_EVERY:
                self.own_checkpoints()[state.revision] = state
        if count == len(history) and before is not state:
            self.recent = before if before.revision > base else None
        if self.dirty_from is not None and self.dirty_from < count:
            self.dirty_from = count if count < len(history) else None
        return state

    def settle(self) -> None:
        """Refold the history from the first stale position, if a late event made one."""
        if self.dirty_from is not None:
            self.recomputed = self.touched = True
            self.state = self._state_after(len(self.history))

    def compact(self, now_ms: int) -> bool:
        """Keep only the final projection of a quiet ended task / logged-out agent."""
        if (
            self.buffer
            or not self.history
            or self.watermark is None
            or not _quiet(self.last_arrival, now_ms, self.policy)
            or not self.spec.is_terminal(self.state)
        ):
            return False
        self.base = self.state
        self.history.clear()
        self.index = self.checkpoints = _NONE
        self.recent = None
        self.floor = self.watermark + 1
        return True

    def finish(self, compacted: bool = False) -> tuple[EntityLog, Outcome]:
        log = self.log
        if self.touched or compacted:
            # positional, in field order: this runs once per step
            log = EntityLog(
                log.kind,
                log.entity_id,
                self.state,
                self.base,
                tuple(self.history),
                tuple(self.buffer),
                self.watermark,
                self.floor,
                self.last_arrival,
                self.defaults,
                self.index,
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


def _due_count(buffer: Iterable[Held], watermark: int | None, now_ms: int, policy: Policy) -> int:
    """How many buffered events are released: up to the last one that is due, by event time
    (watermark - grace) or by processing time (waited flush_timeout); earlier ones go too."""
    if watermark is None:
        return 0
    limit = watermark - policy.grace_ms
    timeout = policy.flush_timeout_ms
    count = 0
    for i, held in enumerate(buffer, 1):
        if held.key[0] <= limit or now_ms - held.arrived_ms >= timeout:
            count = i
    return count


def _quiet(last_arrival: int | None, now_ms: int, policy: Policy) -> bool:
    return last_arrival is not None and now_ms - last_arrival >= policy.horizon_ms


def accept_many(
    log: EntityLog, events: Iterable[Event], *, now_ms: int, policy: Policy
) -> tuple[EntityLog, Outcome]:
    """Take a batch of this entity's events (any order, duplicates allowed) at processing
    time `now_ms`, then release what is due and prune what is past the horizon."""
    step = _Step(log, policy)
    for event in events:
        step.accept(event, now_ms)
    step.release_due(now_ms)
    step.settle()
    step.prune()
    return step.finish()


def accept(
    log: EntityLog, event: Event, *, now_ms: int, policy: Policy
) -> tuple[EntityLog, Outcome]:
    """Take one event; see `accept_many`."""
    return accept_many(log, (event,), now_ms=now_ms, policy=policy)


def release_due(log: EntityLog, *, now_ms: int, policy: Policy) -> tuple[EntityLog, Outcome]:
    """The processing-time flush (call it on a timer tick): release the buffered events that
    are due at `now_ms` and compact a quiet ended entity. Returns `log` itself when idle."""
    due = _due_count(log.buffer, log.watermark, now_ms, policy)
    compactable = (
        not log.buffer
        and bool(log.history)
        and _quiet(log.last_arrival_ms, now_ms, policy)
        and KINDS[log.kind].is_terminal(log.state)
    )
    if not due and not compactable:
        return log, NOTHING
    step = _Step(log, policy)
    step.release_due(now_ms)
    step.settle()
    step.prune()
    return step.finish(compacted=step.compact(now_ms))


def drain(log: EntityLog, *, policy: Policy) -> tuple[EntityLog, Outcome]:
    """Release every buffered event now (end of a replay, or an orderly hand-over)."""
    if not log.buffer:
        return log, NOTHING
    step = _Step(log, policy)
    step.release_all()
    step.settle()
    step.prune()
    return step.finish()


def next_wakeup_ms(log: EntityLog, *, policy: Policy) -> int | None:
    """The processing time at which `release_due` will next have work, or None."""
    if log.buffer:
        return min(h.arrived_ms for h in log.buffer) + policy.flush_timeout_ms
    if log.history and log.last_arrival_ms is not None and KINDS[log.kind].is_terminal(log.state):
        return log.last_arrival_ms + policy.horizon_ms
    return None


def projection(log: EntityLog) -> dict[str, Any]:
    """The entity's projection document (docs/projections.md)."""
    return KINDS[log.kind].document(log.state)


def projection_bytes(log: EntityLog) -> bytes:
    """The projection document as the bytes published to the compacted topic."""
    return document_bytes(projection(log))


def held_count(log: EntityLog) -> int:
    """Events the log holds (history + buffer): the size of its seen-set, for the metric."""
    return len(log.history) + len(log.buffer)
