"""The change log behind the live stream: what changed, in the order this replica saw it.

Every change carries the replica's position after it: the next offset of every partition
of both projection topics. That position is the stream's event id. Because each
partition is read in offset order, "every record of partition p before offset o has been
seen" holds on every replica and after a restart, so a client resumes (Last-Event-ID)
on any replica: it is sent the changes at or past its position, or told to reload
(`None` from `resume`) when the bounded log no longer reaches back that far.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from wxcc_stream.api.entries import Entry, Kind

KINDS = (Kind.AGENT, Kind.TASK)
Offsets = tuple[tuple[int, ...], tuple[int, ...]]
"""Next offset per partition: (agent-state partitions, task-lifecycle partitions)."""


def encode_position(offsets: Offsets) -> str:
    """The event id of a position: `a0.a1..._t0.t1...`."""
    return "_".join(".".join(map(str, part)) for part in offsets)


def parse_position(text: str | None, partitions: Mapping[Kind, int]) -> Offsets | None:
    """A position from an event id; None when it is missing or not of this deployment's
    shape (another partition count), which makes the client reload."""
    if not text:
        return None
    parts = text.strip().split("_")
    if len(parts) != len(KINDS):
        return None
    try:
        agent, task = (tuple(int(x) for x in part.split(".")) for part in parts)
    except ValueError:
        return None
    if len(agent) != partitions[Kind.AGENT] or len(task) != partitions[Kind.TASK]:
        return None
    if min(agent + task) < 0:
        return None
    return agent, task


def merge(a: Offsets, b: Offsets) -> Offsets:
    """The position past both (elementwise maximum)."""
    return (
        tuple(map(max, a[0], b[0])),
        tuple(map(max, a[1], b[1])),
    )


@dataclass(frozen=True, slots=True)
class Change:
    """One document that changed, where it was read, and the position after it."""

    seq: int
    kind: Kind
    partition: int
    offset: int
    entry: Entry
    position: Offsets


def _slot(kind: Kind) -> int:
    return 0 if kind is Kind.AGENT else 1


class ChangeLog:
    """The last `capacity` changes, with the position of everything read so far."""

    def __init__(self, capacity: int, partitions: Mapping[Kind, int]) -> None:
        self.capacity = capacity
        self.partitions = dict(partitions)
        self._next = [[0] * partitions[k] for k in KINDS]
        self._horizon = [[0] * partitions[k] for k in KINDS]
        self._changes: deque[Change] = deque()
        self.seq = 0

    @property
    def position(self) -> Offsets:
        """Next offset of every partition: everything before it has been read."""
        return tuple(self._next[0]), tuple(self._next[1])

    def start_at(self, kind: Kind, partition: int, offset: int) -> None:
        """Reading begins at `offset` (the log start): nothing before it can be replayed."""
        slot = _slot(kind)
        self._next[slot][partition] = max(self._next[slot][partition], offset)
        self._horizon[slot][partition] = max(self._horizon[slot][partition], offset)

    def read(self, kind: Kind, partition: int, offset: int, entry: Entry | None) -> Change | None:
        """One record was read; `entry` when it changed the view. The change, if any."""
        slot = _slot(kind)
        self._next[slot][partition] = offset + 1
        if entry is None:
            return None
        self.seq += 1
        change = Change(self.seq, kind, partition, offset, entry, self.position)
        self._changes.append(change)
        if len(self._changes) > self.capacity:
            old = self._changes.popleft()
            horizon = self._horizon[_slot(old.kind)]
            horizon[old.partition] = max(horizon[old.partition], old.offset + 1)
        return change

    def after(self, seq: int) -> list[Change] | None:
        """The changes newer than `seq` (a subscriber's last one), oldest first; None when
        some of them were already dropped from the log (a subscriber too slow to keep up)."""
        if seq >= self.seq:
            return []
        first = self._changes[0].seq
        if seq + 1 < first:
            return None
        return [self._changes[i] for i in range(seq + 1 - first, len(self._changes))]

    def resume(self, position: Offsets) -> list[Change] | None:
        """The changes a client at `position` has not seen, oldest first; None when the log
        no longer reaches back to it (the client must reload)."""
        for slot in (0, 1):
            if any(p < h for p, h in zip(position[slot], self._horizon[slot], strict=True)):
                return None
        return list(unseen(self._changes, position))


def unseen(changes: Iterable[Change], position: Offsets) -> Iterable[Change]:
    """The changes at or past `position` in their own partition."""
    for change in changes:
        if change.offset >= position[_slot(change.kind)][change.partition]:
            yield change
