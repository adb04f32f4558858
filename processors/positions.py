"""Detect offsets Faust never delivered to an agent (no faust here).

During a rebalance Faust skips the records it fetched for the old generation (or read while
its flow control is suspended) and acknowledges them anyway; a later commit can then move
the group's offset past records no agent has seen, and they are never delivered again.
The worker's inputs (raw and per-entity topics: no transactions, no compaction) have
contiguous offsets, so an agent that remembers the last offset it handled per partition
sees such a hole and can report it (a metric and an error log): those events are missing
from the projections until the raw topic is replayed.

Positions are forgotten for partitions this worker no longer owns, so a partition coming
back after another worker had it is not mistaken for a hole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Hole", "Positions"]

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Hole:
    """Offsets `first` .. `next_seen - 1` of a partition were never delivered."""

    tp: TopicPartition
    first: int
    next_seen: int


@dataclass(slots=True)
class Positions:
    """The last offset handled per partition, in this process."""

    last: dict[TopicPartition, int] = field(default_factory=dict)

    def keep_only(self, tps: Iterable[TopicPartition]) -> None:
        """After an assignment: forget the partitions this worker does not own now."""
        owned = set(tps)
        for tp in list(self.last):
            if tp not in owned:
                del self.last[tp]

    def observe(self, batch: Sequence[tuple[TopicPartition, int]]) -> list[Hole]:
        """Record a batch of (partition, offset); return the holes it reveals.

        A record at or below the last offset is a redelivery (after a rebalance the new
        generation starts again from the committed offset) and is not a hole.
        """
        holes = []
        for tp, offset in batch:
            last = self.last.get(tp)
            if last is not None and offset > last + 1:
                holes.append(Hole(tp, last + 1, offset))
            if last is None or offset > last:
                self.last[tp] = offset
        return holes
