"""Stalled-partition detection: no progress while the lag grows.

A plain data structure fed with processed positions and end offsets, with a clock passed in:
a partition is stalled when records wait and its position has not moved for
`stall_after_ms` (docs/processors.md, "Liveness").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["PartitionHealth", "StallDetector", "TopicPartition"]

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class PartitionHealth:
    """What the detector knows about one partition."""

    topic: str
    partition: int
    position: int | None
    end_offset: int | None
    lag: int
    stalled: bool
    still_for_ms: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for the readiness endpoint."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "position": self.position,
            "endOffset": self.end_offset,
            "lag": self.lag,
            "stalled": self.stalled,
            "stillForMs": self.still_for_ms,
        }


@dataclass(slots=True)
class _Track:
    position: int | None = None
    end_offset: int | None = None
    moved_at_ms: int = 0


@dataclass(slots=True)
class StallDetector:
    """Tracks processed positions and end offsets of the partitions this worker owns."""

    stall_after_ms: int
    _tracks: dict[TopicPartition, _Track] = field(default_factory=dict)

    def assign(self, tps: Iterable[TopicPartition], now_ms: int) -> None:
        """Start watching exactly these partitions (after a rebalance)."""
        wanted = set(tps)
        for tp in list(self._tracks):
            if tp not in wanted:
                del self._tracks[tp]
        for tp in wanted:
            self._tracks.setdefault(tp, _Track(moved_at_ms=now_ms))

    def processed(self, tp: TopicPartition, offset: int, now_ms: int) -> None:
        """Processing reached `offset` (the next position is offset + 1)."""
        track = self._tracks.get(tp)
        if track is None:
            return
        position = offset + 1
        if track.position is None or position > track.position:
            track.position = position
            track.moved_at_ms = now_ms

    def committed(self, tp: TopicPartition, offset: int | None, now_ms: int) -> None:
        """The group's committed offset: a position to start from when nothing was processed."""
        track = self._tracks.get(tp)
        if track is None or offset is None:
            return
        if track.position is None or offset > track.position:
            track.position = offset
            track.moved_at_ms = now_ms

    def position_of(self, tp: TopicPartition) -> int | None:
        """The position reached in a watched partition (None if unknown or not watched)."""
        track = self._tracks.get(tp)
        return None if track is None else track.position

    def observe_end_offsets(self, ends: Mapping[TopicPartition, int], now_ms: int) -> None:
        """Latest end offsets (log end) from the broker."""
        for tp, end in ends.items():
            track = self._tracks.get(tp)
            if track is not None:
                track.end_offset = end

    def health(self, now_ms: int) -> list[PartitionHealth]:
        """Every watched partition, sorted by topic and partition."""
        out = []
        for (topic, partition), track in sorted(self._tracks.items()):
            lag = 0
            if track.end_offset is not None:
                lag = max(0, track.end_offset - (track.position or 0))
            still = now_ms - track.moved_at_ms
            stalled = lag > 0 and still >= self.stall_after_ms
            out.append(
                PartitionHealth(
                    topic, partition, track.position, track.end_offset, lag, stalled, still
                )
            )
        return out

    def stalled(self, now_ms: int) -> list[PartitionHealth]:
        """Only the stalled partitions."""
        return [h for h in self.health(now_ms) if h.stalled]
