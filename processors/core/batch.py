"""One batch of one per-entity stream through the pure core.

Events grouped by entity, `accept_many` once per entity (`release_due` for the entities a
tick finds due); returns the table values to write and the records to publish, deciding
nothing about Kafka (docs/processors.md, "One batch").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from wxcc_stream.processors.core.log import EntityLog, new_log
from wxcc_stream.processors.core.log_cache import LogCache
from wxcc_stream.processors.core.outcome import Outcome
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.report import Publication, Stats, bad_record, report
from wxcc_stream.processors.core.routing import unbundle
from wxcc_stream.processors.core.schedule import Schedule, index_key
from wxcc_stream.processors.core.step import accept_many, next_wakeup_ms, release_due
from wxcc_stream.processors.storage.log_value import decode_log, log_writes
from wxcc_stream.schemas.event import EntityKind, Event

__all__ = ["BatchResult", "Record", "process_batch"]

# Entities a tick works off per partition; the rest waits for the next tick, so one tick
# never blocks the loop for long (a compaction wave at the end of a day, say).
TICK_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Record:
    """One record the agent took from a per-entity stream, or a raw record that already
    sits in its entity's partition (then `events` holds it parsed, `value` is unused)."""

    partition: int
    offset: int
    key: bytes | None  # None: a tick
    value: bytes
    events: tuple[Event, ...] | None = None


@dataclass(slots=True)
class BatchResult:
    """What the agent does with one batch: publish `publications`, then apply `writes`."""

    writes: dict[int, dict[bytes, bytes | None]]
    publications: list[Publication]
    stats: Stats


def _bucket_ms(policy: Policy) -> int:
    # about 36 buckets over the horizon, none shorter than a minute
    return max(60_000, policy.horizon_ms // 36)


def _wakeups(log: EntityLog, policy: Policy) -> tuple[int | None, int | None]:
    """(flush wake-up, expiry wake-up) of a log."""
    at = next_wakeup_ms(log, policy=policy)
    if at is None:
        return None, None
    return (at, None) if log.buffer else (None, at)


class _Partition:
    """The working state of one partition during one batch."""

    def __init__(
        self,
        kind: EntityKind,
        partition: int,
        get: Callable[[bytes], bytes | None],
        policy: Policy,
        cache: LogCache | None,
        ordered: bool,
    ) -> None:
        self.kind = kind
        self.ordered = ordered
        self.partition = partition
        self.policy = policy
        self.cache = cache
        self._get = get
        self.values: dict[bytes, bytes | None] = {}
        self._heads: dict[bytes, bytes | None] = {}  # as `load` read them from the table
        self.schedule = Schedule.load(partition, get(index_key(partition)), _bucket_ms(policy))

    def get(self, key: bytes) -> bytes | None:
        if key in self.values:
            return self.values[key]
        return self._get(key)

    def load(self, entity_id: str) -> EntityLog | None:
        """The entity's log as the table (or this batch) holds it; None if it has none."""
        key = entity_id.encode()
        raw = self._heads[key] = self.get(key)
        if raw is None:
            return None
        log = self.cache.get(key, raw) if self.cache is not None else None
        if log is None:
            log = decode_log(raw, self.get)
            if self.cache is not None:
                self.cache.put(key, raw, log)
        return log

    def stage(self, entity_id: str, log: EntityLog) -> None:
        """Encode a new log value to be written at the end of the batch."""
        key = entity_id.encode()
        raw = b""
        # the head the table holds now (a long one names pieces to delete), as read once
        if key in self.values:
            previous = self.values[key]
        elif key in self._heads:
            previous = self._heads[key]
        else:
            previous = self._get(key)
        for written, value in log_writes(key, log, previous=previous):
            self.values[written] = value
            if written is key:
                raw = value or b""
        if self.cache is not None:
            self.cache.put(key, raw, log)


def process_batch(
    kind: EntityKind,
    records: Sequence[Record],
    get: Callable[[bytes], bytes | None],
    *,
    now_ms: int,
    policy: Policy,
    cache: LogCache | None = None,
    ordered: bool = True,
) -> BatchResult:
    """Run one batch of a per-entity stream through the core; see the module docstring.
    `ordered=False` leaves out the ordered events (a replay that does not rebuild the
    ordered topics would encode them for nothing); nothing else changes."""
    publications: list[Publication] = []
    stats = Stats()
    parts: dict[int, _Partition] = {}
    grouped: dict[int, dict[str, list[Event]]] = defaultdict(dict)
    ticked: set[int] = set()
    for record in records:
        if record.partition not in parts:
            parts[record.partition] = _Partition(
                kind, record.partition, get, policy, cache, ordered
            )
        if record.key is None:
            ticked.add(record.partition)
            continue
        try:
            events = list(record.events) if record.events is not None else unbundle(record.value)
        except (ValueError, KeyError, TypeError) as exc:
            publications.append(
                bad_record(kind, record.partition, record.offset, record.key, record.value, exc)
            )
            stats.deadlettered += 1
            continue
        stats.events_in += len(events)
        grouped[record.partition].setdefault(record.key.decode(), []).extend(events)

    for partition, part in parts.items():
        for entity_id, events in grouped[partition].items():
            known = part.load(entity_id)
            fresh = known is None
            before = new_log(kind, entity_id) if known is None else known
            after, outcome = accept_many(before, events, now_ms=now_ms, policy=policy)
            _finish(part, entity_id, before, after, outcome, fresh, publications, stats, filed=True)
        if partition in ticked:
            _tick(part, now_ms, publications, stats, exclude=grouped[partition].keys())

    writes = {}
    for partition, part in parts.items():
        part.values.update(part.schedule.writes())
        if part.values:
            writes[partition] = part.values
    return BatchResult(writes, publications, stats)


def _finish(
    part: _Partition,
    entity_id: str,
    before: EntityLog,
    after: EntityLog,
    outcome: Outcome,
    fresh: bool,
    publications: list[Publication],
    stats: Stats,
    *,
    filed: bool,
) -> None:
    """Report an entity's step, stage its table value and file its next wake-ups."""
    report(
        part.kind, entity_id, before, after, outcome, part.partition, publications, stats,
        ordered=part.ordered,
    )  # fmt: skip
    # A duplicate may be the replay of records whose table write reached a local store
    # (RocksDB) but not the changelog before a crash: writing the value again, unchanged,
    # puts it in the changelog, so a worker that rebuilds this table from there gets it.
    if after is not before or outcome.duplicates:
        part.stage(entity_id, after)
        if fresh:
            stats.entities_delta[part.partition] += 1
    flush_at, expire_at = _wakeups(after, part.policy)
    filed_at = _wakeups(before, part.policy)[1] if filed and not fresh else None
    part.schedule.update(
        entity_id, flush_at=flush_at, expire_at=expire_at, filed_expire_at=filed_at, load=part.get
    )


def _tick(
    part: _Partition,
    now_ms: int,
    publications: list[Publication],
    stats: Stats,
    *,
    exclude: Iterable[str],
) -> None:
    """Release what is due and compact what is quiet, for this partition's entities."""
    done = set(exclude)  # accept_many already released what was due for these
    due = [eid for eid in part.schedule.take_due(now_ms, TICK_LIMIT) if eid not in done]
    expiring = part.schedule.take_expiring(now_ms, max(0, TICK_LIMIT - len(due)), part.get)
    taken_from_bucket = set(expiring)
    for entity_id in dict.fromkeys([*due, *expiring]):
        before = part.load(entity_id)
        if before is None:  # unknown here: drop it from the schedule
            part.schedule.update(
                entity_id, flush_at=None, expire_at=None, filed_expire_at=None, load=part.get
            )
            continue
        after, outcome = release_due(before, now_ms=now_ms, policy=part.policy)
        filed = entity_id not in taken_from_bucket
        _finish(part, entity_id, before, after, outcome, False, publications, stats, filed=filed)
