"""Which input records an agent processes, and how far the worker may commit.

Each partition's records are taken strictly in offset order from the committed offset; a
record beyond the next expected one reveals a hole (the shell rewinds to it), and an offset
counts as done once the agent is back for its next batch (docs/processors.md, "Rebalances").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

__all__ = ["Hole", "Intake", "Positions", "Track", "committable"]

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Hole:
    """Offsets `first` .. `next_seen - 1` of a partition did not reach the agent.

    `repeated`: the consumer was already sent back to `first` and records past it still
    arrive (read before the rewind took effect): rewind again, but it is not a new hole.
    `presumed`: no later record was seen, the partition just stopped moving with records
    waiting up to `next_seen`.
    """

    tp: TopicPartition
    first: int
    next_seen: int
    repeated: bool = False
    presumed: bool = False


@dataclass(frozen=True, slots=True)
class Intake:
    """One batch sorted out: the indexes of the records to process, and the holes found."""

    taken: tuple[int, ...]
    holes: tuple[Hole, ...]


@dataclass(frozen=True, slots=True)
class Track:
    """One partition: offsets below `done` are finished, below `next` handed to the agent."""

    done: int
    next: int
    # when `next` last moved, or the consumer was last sent back (a clock passed in)
    quiet_since_ms: int
    # the offset the consumer was last sent back to, until a record there arrives
    rewound_to: int | None = None


@dataclass(slots=True)
class Positions:
    """The offsets one agent took and finished, per partition, in this process."""

    tracks: dict[TopicPartition, Track] = field(default_factory=dict)

    def unknown(self, tps: Iterable[TopicPartition]) -> set[TopicPartition]:
        """The partitions among `tps` that have no starting offset yet."""
        return {tp for tp in tps if tp not in self.tracks}

    def start(self, tp: TopicPartition, offset: int, now_ms: int) -> None:
        """Start a partition at the group's committed offset (no-op if already tracked)."""
        if tp not in self.tracks:
            self.tracks[tp] = Track(done=offset, next=offset, quiet_since_ms=now_ms)

    def skip_to(self, tp: TopicPartition, offset: int, now_ms: int) -> None:
        """The records of `tp` below `offset` are gone (retention): do not wait for them."""
        track = self.tracks.get(tp)
        if track is not None and track.next < offset:
            self.tracks[tp] = Track(done=offset, next=offset, quiet_since_ms=now_ms)

    def keep_only(self, tps: Iterable[TopicPartition]) -> None:
        """After an assignment: forget the partitions this worker does not own now."""
        owned = set(tps)
        self.tracks = {tp: t for tp, t in self.tracks.items() if tp in owned}

    def settle(self) -> None:
        """The agent is back for another batch: everything it took is finished."""
        self.tracks = {tp: replace(t, done=t.next) for tp, t in self.tracks.items()}

    def restart(self) -> None:
        """The agent restarted: the batch it took but did not finish must come again."""
        self.tracks = {tp: replace(t, next=t.done) for tp, t in self.tracks.items()}

    def take(
        self, batch: Sequence[tuple[TopicPartition, int]], now_ms: int, retry_ms: int = 0
    ) -> Intake:
        """Sort out a batch of (partition, offset): what to process, and the holes.

        Per partition the run of consecutive offsets from the next expected one is taken
        (in whatever order the batch has them: the core does not depend on it); records of
        untracked partitions (not ours), below the run (redeliveries) or repeated within
        the batch are not. A record beyond the run reveals a hole at the run's end.
        """
        present: dict[TopicPartition, set[int]] = {}
        for tp, offset in batch:
            present.setdefault(tp, set()).add(offset)
        runs: dict[TopicPartition, range] = {}
        holes = []
        for tp, offsets in present.items():
            track = self.tracks.get(tp)
            if track is None:
                continue
            end = track.next
            while end in offsets:
                end += 1
            runs[tp] = range(track.next, end)
            beyond = [o for o in offsets if o > end]
            # already rewound there, nothing taken since: these records were read before
            # the rewind took effect; rewind again only after `retry_ms`
            repeated = track.rewound_to == end
            if beyond and (not repeated or now_ms - track.quiet_since_ms >= retry_ms):
                holes.append(Hole(tp, end, min(beyond), repeated))
                self.tracks[tp] = Track(track.done, end, now_ms, rewound_to=end)
            elif end > track.next:
                self.tracks[tp] = Track(track.done, end, now_ms)
        taken = []
        seen: set[tuple[TopicPartition, int]] = set()
        for index, (tp, offset) in enumerate(batch):
            run = runs.get(tp)
            if run is not None and offset in run and (tp, offset) not in seen:
                seen.add((tp, offset))
                taken.append(index)
        return Intake(tuple(taken), tuple(holes))

    def stuck(
        self, ends: Mapping[TopicPartition, int], now_ms: int, after_ms: int
    ) -> tuple[Hole, ...]:
        """Partitions with records waiting (`ends`: end offsets) that have not moved for
        `after_ms`: their next record was dropped with nothing after it to show the hole.

        At most one rewind per partition every `after_ms`; a false alarm (the records were
        only slow to come) costs a second read of them, nothing else.
        """
        holes = []
        for tp, end in ends.items():
            track = self.tracks.get(tp)
            if track is None or end <= track.next or now_ms - track.quiet_since_ms < after_ms:
                continue
            repeated = track.rewound_to == track.next
            holes.append(Hole(tp, track.next, end, repeated, presumed=True))
            self.tracks[tp] = replace(track, quiet_since_ms=now_ms, rewound_to=track.next)
        return tuple(holes)

    def committable(self) -> dict[TopicPartition, int]:
        """Per partition, the offset up to which everything is finished."""
        return {tp: t.done for tp, t in self.tracks.items()}


def committable(ledgers: Iterable[Positions]) -> Mapping[TopicPartition, int]:
    """What the worker may commit: per partition, the lowest finished offset of its agents."""
    result: dict[TopicPartition, int] = {}
    for ledger in ledgers:
        for tp, done in ledger.committable().items():
            result[tp] = min(done, result.get(tp, done))
    return result
