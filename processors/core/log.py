"""The per-entity log: one Faust table value per agent or task (docs/processors.md)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from immutables import Map

from wxcc_stream.processors.core.held import EventRef, Held, SortKey, held_key
from wxcc_stream.processors.core.history import Chunk, History
from wxcc_stream.processors.storage.rows import Defaults, encode_row
from wxcc_stream.projections.event_order import OTHER_RANK
from wxcc_stream.projections.fold import document_bytes
from wxcc_stream.projections.registry import KINDS, ProjectionState
from wxcc_stream.schemas.event import EntityKind, Event

__all__ = [
    "NONE",
    "NO_REFS",
    "Chunk",
    "EntityLog",
    "EventRef",
    "Held",
    "History",
    "SortKey",
    "held_count",
    "held_key",
    "hold",
    "new_log",
    "projection",
    "projection_bytes",
    "sort_key",
]


def sort_key(kind: EntityKind, event: Event) -> SortKey:
    """The event's place in the stream of `kind` (the source shared: every row holds it)."""
    rank = KINDS[kind].ranks.get(event.type, OTHER_RANK)
    return (event.created_time, rank, event.ce_id, sys.intern(event.ce_source))


def hold(kind: EntityKind, event: Event, arrived_ms: int, defaults: Defaults) -> Held:
    """Wrap an event for the log of stream `kind`, whose rows leave out `defaults`."""
    row = encode_row(event, arrived_ms, defaults)
    return Held(sort_key(kind, event), arrived_ms, row, defaults)


NONE: Mapping[Any, Any] = MappingProxyType({})
"""The empty derived map: shared, where a fresh one would cost 64 B or more per log."""


def _none() -> Mapping[Any, Any]:
    return NONE


NO_REFS: Map[EventRef, Held] = Map()
"""The empty seen-set, shared."""


def _index(entries: Iterable[Held]) -> Map[EventRef, Held]:
    return Map({h.ref: h for h in entries})


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
    history: History = field(default_factory=History)
    buffer: tuple[Held, ...] = ()
    watermark: int | None = None
    floor: int | None = None
    last_arrival_ms: int | None = None
    defaults: Defaults | None = None
    # a persistent map: a step's change shares the rest, whatever the history's length
    index: Map[EventRef, Held] = field(default=NO_REFS, compare=False, repr=False)
    pending: Mapping[SortKey, Event] = field(default_factory=_none, compare=False, repr=False)
    checkpoints: Mapping[int, ProjectionState] = field(
        default_factory=_none, compare=False, repr=False
    )
    recent: ProjectionState | None = field(default=None, compare=False, repr=False)

    # how the history is stored (core/history.py), and what the step that made this value
    # changed there: the chunks to write and those to delete

    @property
    def chunks(self) -> list[Chunk]:
        return self.history.chunks

    @property
    def sealed(self) -> int:
        return self.history.sealed

    @property
    def unsaved(self) -> set[int]:
        return self.history.unsaved

    @property
    def dropped(self) -> list[int]:
        return self.history.dropped

    def __post_init__(self) -> None:
        if not self.index and (self.history or self.buffer):
            object.__setattr__(self, "index", _index((*self.history, *self.buffer)))


def new_log(kind: EntityKind, entity_id: str) -> EntityLog:
    """The log of an entity that has seen nothing yet."""
    initial = KINDS[kind].initial(entity_id)
    return EntityLog(kind=kind, entity_id=entity_id, state=initial, base=initial)


def projection(log: EntityLog) -> dict[str, Any]:
    """The entity's projection document (docs/projections.md)."""
    return KINDS[log.kind].document(log.state)


def projection_bytes(log: EntityLog) -> bytes:
    """The projection document as the bytes published to the compacted topic."""
    return document_bytes(projection(log))


def held_count(log: EntityLog) -> int:
    """Events the log holds (history + buffer): the size of its seen-set, for the metric."""
    return len(log.history) + len(log.buffer)
