"""The replay's entity state, in memory, and one batch of it through the pure core.

No Kafka here: raw records and hop records come in as plain values, and the outputs go
out as plain values (the engine in `replay/kafka.py` reads and sends them). Each entity
partition has its own tables (a dict of table values per kind, as the worker's Faust
tables hold them) so a partition that moves to another process is dropped whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import msgspec

from wxcc_stream.processors.core.batch import BatchResult, Record, process_batch
from wxcc_stream.processors.core.log_cache import LogCache
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.report import Publication, Role
from wxcc_stream.processors.replay.hops import decode_hop
from wxcc_stream.processors.replay.plan import ReplayClock
from wxcc_stream.schemas.cloudevent import SchemaError, entity_keys, parse_event_bytes
from wxcc_stream.schemas.event import EntityKind, Event
from wxcc_stream.schemas.raw_record import header_map, received_at_of

__all__ = ["Hop", "Output", "RawIn", "Replayer", "Tally"]

PartitionOf = Callable[[bytes, int], int]
Headers = Iterable[tuple[str, bytes]]
# a flush releases at most TICK_LIMIT entities a partition per tick: ticks until quiet
_MAX_FLUSH_TICKS = 10_000


class RawIn(msgspec.Struct, frozen=True, gc=False):  # one per raw record: a C constructor
    """One raw record as read."""

    partition: int
    offset: int
    value: bytes | None
    headers: Headers
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Hop:
    """A task leg's copy for an entity of another partition: (kind, key, events)."""

    kind: EntityKind
    key: bytes
    events: tuple[Event, ...]


@dataclass(slots=True)
class Tally:
    """Counts for the progress line and the final summary."""

    raw: int = 0
    rejected: int = 0
    hopped: int = 0
    events_in: int = 0
    events_out: int = 0
    duplicates: int = 0
    late: int = 0
    conflicts: int = 0
    beyond_horizon: int = 0
    projections: int = 0

    def add(self, result: BatchResult) -> None:
        s = result.stats
        self.events_in += s.events_in
        self.events_out += s.events_out
        self.duplicates += s.duplicates
        self.late += s.late
        self.conflicts += s.conflicts
        self.beyond_horizon += s.beyond_horizon


@dataclass(slots=True)
class Output:
    """What one batch sends: hops, then per kind the ordered events and the newest
    projection document per key (a compacted topic keeps only that one anyway)."""

    hops: list[Hop] = field(default_factory=list)
    ordered: dict[EntityKind, list[Publication]] = field(default_factory=dict)
    projections: dict[EntityKind, dict[bytes, bytes]] = field(default_factory=dict)

    def collect(self, kind: EntityKind, publications: Iterable[Publication]) -> None:
        for out in publications:
            if out.role is Role.PROJECTION and out.key is not None:
                self.projections.setdefault(kind, {})[out.key] = out.value
            elif out.role is Role.ORDERED:
                self.ordered.setdefault(kind, []).append(out)


class _Tables:
    """One entity partition: a table (dict) and a decoded-log cache per kind."""

    def __init__(self, cache_entries: int) -> None:
        self.values: dict[EntityKind, dict[bytes, bytes]] = {k: {} for k in EntityKind}
        self.caches = {kind: LogCache(cache_entries) for kind in EntityKind}

    def apply(self, kind: EntityKind, writes: Mapping[bytes, bytes | None]) -> None:
        table, cache = self.values[kind], self.caches[kind]
        for key, value in writes.items():
            if value is None:
                table.pop(key, None)
                cache.discard(key)
            else:
                table[key] = value


class Replayer:
    """The entity state of the partitions this process owns, and the core run over it."""

    def __init__(
        self,
        partitions: int,
        policy: Policy,
        partition_of: PartitionOf,
        cache_entries: int,
        *,
        ordered: bool = True,
    ) -> None:
        self.partitions = partitions
        self.policy = policy
        self.ordered = ordered  # False: the ordered topics are not rebuilt, skip their events
        self.clock = ReplayClock()
        self.tally = Tally()
        self._partition_of = partition_of
        self._cache_entries = cache_entries
        self._owned: dict[int, _Tables] = {}

    def own(self, partition: int) -> None:
        """Start an (empty) partition: its state is rebuilt from the start of the range."""
        self._owned[partition] = _Tables(self._cache_entries)

    def drop(self, partition: int) -> None:
        """Forget a partition that moved to another process."""
        self._owned.pop(partition, None)

    def owns(self, partition: int) -> bool:
        return partition in self._owned

    def take(
        self,
        raw: Iterable[RawIn],
        hops: Iterable[tuple[int, int, bytes, EntityKind, bytes]],
        ticked: Iterable[int],
    ) -> Output:
        """Run raw records, hop records (partition, offset, key, kind, value) and a tick
        for each partition of `ticked` through the core, at the time they carry."""
        output = Output()
        records: dict[tuple[EntityKind, int], list[Record]] = {}
        for record in raw:
            self._route(record, records, output)
        for partition, offset, key, kind, value in hops:
            events = decode_hop(value)
            self.clock.observe(e.received_at for e in events)
            records.setdefault((kind, partition), []).append(
                Record(partition, offset, key, b"", events=events)
            )
        for partition in ticked:
            for kind in EntityKind:
                records.setdefault((kind, partition), []).append(Record(partition, -1, None, b""))
        now = self.clock.now_ms
        for (kind, partition), batch in records.items():
            tables = self._owned.get(partition)
            if tables is not None:
                self._run(kind, partition, tables, batch, now, output)
        return output

    def table_values(self, partition: int) -> dict[EntityKind, dict[bytes, bytes]]:
        """Every table value of a partition, per kind: the worker's own table values (for
        a seed), held events and the flush index included."""
        tables = self._owned.get(partition)
        return {} if tables is None else {k: dict(v) for k, v in tables.values.items()}

    def flush(self, partition: int) -> Output:
        """Release every buffered event of a partition read to its end."""
        output = Output()
        tables = self._owned.get(partition)
        if tables is None:
            return output
        now = self.clock.final_ms(self.policy)
        for kind in EntityKind:
            for _ in range(_MAX_FLUSH_TICKS):
                tick = [Record(partition, -1, None, b"")]
                if not self._run(kind, partition, tables, tick, now, output):
                    break
        return output

    def _run(
        self,
        kind: EntityKind,
        partition: int,
        tables: _Tables,
        batch: list[Record],
        now: int,
        output: Output,
    ) -> int:
        result = process_batch(
            kind, batch, tables.values[kind].get, now_ms=now, policy=self.policy,
            cache=tables.caches[kind], ordered=self.ordered,
        )  # fmt: skip
        tables.apply(kind, result.writes.get(partition, {}))
        self.tally.add(result)
        output.collect(kind, result.publications)
        return len(result.publications)

    def _route(
        self, record: RawIn, records: dict[tuple[EntityKind, int], list[Record]], output: Output
    ) -> None:
        self.tally.raw += 1
        received_at = received_at_of(header_map(record.headers), record.timestamp_ms)
        self.clock.observe((received_at,))
        # `target_raw`'s parse and keys, without the dead-letter document it builds for an
        # invalid record: the live worker published that one already
        try:
            event = parse_event_bytes(record.value or b"", received_at=received_at)
        except SchemaError:
            self.tally.rejected += 1
            return
        events = (event,)
        for kind, entity_id in entity_keys(event):
            key = entity_id.encode()
            if self._partition_of(key, self.partitions) == record.partition:
                records.setdefault((kind, record.partition), []).append(
                    Record(record.partition, record.offset, key, b"", events=events)
                )
            else:
                self.tally.hopped += 1
                output.hops.append(Hop(kind, key, events))
