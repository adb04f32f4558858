"""The replay's decisions, pure: its time, its range, when a partition is complete, what
is worth publishing again (docs/replay.md).

A replay into generation N reads `<prefix>.raw` (a fixed offset range per partition) as one
consumer group. Partition q of the raw topic holds the events of the entities of
partition q (the ingress keys by the primary entity); a task leg's copy for its task may
belong to another partition, so it goes through the generation's hop topic, like the live
worker's hop. The owner of raw partition p sends an end marker to every hop partition
once p is read to its end: hop partition q is complete when it has the markers of every
raw partition, and entity partition q is complete when raw q and hop q both are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import orjson

from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.schemas.event import EntityKind

__all__ = [
    "END_MARKER",
    "HOP_KIND",
    "Completion",
    "Published",
    "Range",
    "ReplayClock",
    "decode_range",
    "encode_range",
]

HOP_KIND = "kind"
"""Header of a hop record: the entity kind of its key."""
END_MARKER = "replay_end"
"""Header of an end marker: the raw partition read to its end (decimal)."""


@dataclass(frozen=True, slots=True)
class Range:
    """The raw offsets a generation is built from: [start, end) per partition. Every
    process of the replay (and a rerun after a crash) must use the same range, so it is
    stored in the generations topic by the first process."""

    offsets: Mapping[int, tuple[int, int]]

    @property
    def partitions(self) -> int:
        return len(self.offsets)

    def events(self) -> int:
        """Raw records in the range."""
        return sum(end - start for start, end in self.offsets.values())


def encode_range(r: Range) -> bytes:
    """The range as stored in the generations topic."""
    return orjson.dumps({str(p): list(se) for p, se in sorted(r.offsets.items())})


def decode_range(value: bytes) -> Range:
    """A stored range (see `encode_range`)."""
    doc = orjson.loads(value)
    return Range({int(p): (int(se[0]), int(se[1])) for p, se in doc.items()})


@dataclass(slots=True)
class ReplayClock:
    """The processing time given to the core: the newest receive time read so far, so a
    flush or a compaction happens at the point of the raw topic where live did it."""

    now_ms: int = 0

    def observe(self, received: Iterable[int | None]) -> int:
        """Advance to the newest of `received` (never back); the time now."""
        for at in received:
            if at is not None and at > self.now_ms:
                self.now_ms = at
        return self.now_ms

    def final_ms(self, policy: Policy) -> int:
        """A time at which every buffered event is due (its flush timeout has passed)."""
        return self.now_ms + policy.flush_timeout_ms


@dataclass(slots=True)
class Completion:
    """Which partitions of this process are read to their end and finished."""

    partitions: int
    raw_done: set[int] = field(default_factory=set)
    markers: dict[int, set[int]] = field(default_factory=dict)
    finished: set[int] = field(default_factory=set)

    def marker(self, hop_partition: int, raw_partition: int) -> None:
        """An end marker of `raw_partition` was read in `hop_partition`."""
        self.markers.setdefault(hop_partition, set()).add(raw_partition)

    def complete(self, partition: int) -> bool:
        """Every event of the entities of `partition` has been read (and not yet flushed)."""
        return (
            partition not in self.finished
            and partition in self.raw_done
            and len(self.markers.get(partition, ())) == self.partitions
        )

    def forget(self, partition: int) -> None:
        """The partition moved to another process: its progress starts again if it returns."""
        self.raw_done.discard(partition)
        self.markers.pop(partition, None)
        self.finished.discard(partition)


@dataclass(slots=True)
class Published:
    """The newest projection document sent per key, to send nothing that would set a
    consumer back: after a restart (or a rebalance) the replay rebuilds entity state from
    the start of its range, and its first documents are older than those already sent."""

    sent: dict[tuple[EntityKind, bytes], tuple[int, int]] = field(default_factory=dict)

    def worth_sending(self, kind: EntityKind, key: bytes, revision: int, value: bytes) -> bool:
        """True for a newer revision, or the same revision with other content (a semantic
        twin replaced the folded event); records it as sent."""
        known = self.sent.get((kind, key))
        fingerprint = hash(value)
        if known is not None and (revision < known[0] or known == (revision, fingerprint)):
            return False
        self.sent[(kind, key)] = (revision, fingerprint)
        return True

    def saw(self, kind: EntityKind, key: bytes, value: bytes) -> None:
        """A document already in the generation's topic (read back at a restart)."""
        self.sent[(kind, key)] = (revision_of(value), hash(value))


def revision_of(document: bytes) -> int:
    """The `revision` of a projection document."""
    value = orjson.loads(document).get("revision", 0)
    return value if isinstance(value, int) else 0


def latest_per_key(
    documents: Iterable[tuple[bytes | None, bytes]],
) -> dict[bytes, bytes]:
    """The newest document per key of a compacted topic, read in order."""
    latest: dict[bytes, bytes] = {}
    for key, value in documents:
        if key is not None:
            latest[key] = value
    return latest
