"""One batch of one per-entity stream through the pure core (no faust here).

The Faust agent hands over the records it took (events and ticks, several partitions
mixed), a way to read table values, and the processing time. This module groups the
events by entity, runs `accept_many` once per entity (and `release_due` for the entities a
tick finds due), and returns what the agent must do: the table values to write (one per
entity per batch, per partition) and the records to publish. It decides nothing about
Kafka; the agent publishes, waits for the acknowledgements, then writes the table, so a
crash in between repeats outputs (same revisions) rather than losing them.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from wxcc_stream.processors.core.log import EntityLog, held_count, new_log, projection_bytes
from wxcc_stream.processors.core.outcome import Outcome
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.routing import unbundle
from wxcc_stream.processors.core.schedule import Schedule, index_key
from wxcc_stream.processors.core.step import accept_many, next_wakeup_ms, release_due
from wxcc_stream.processors.storage.log_value import decode_log, encode_log
from wxcc_stream.projections.event_order import TIEBREAK
from wxcc_stream.schemas.deadletter import deadletter_document
from wxcc_stream.schemas.event import EntityKind, Event

__all__ = ["BatchResult", "LogCache", "Publication", "Record", "Role", "Stats", "process_batch"]

# Entities a tick works off per partition; the rest waits for the next tick, so one tick
# never blocks the loop for long (a compaction wave at the end of a day, say).
TICK_LIMIT = 500


class Role(StrEnum):
    """Where an output record goes."""

    ORDERED = "ordered"
    PROJECTION = "projection"
    LATE = "late"
    DEADLETTER = "deadletter"


@dataclass(frozen=True, slots=True)
class Record:
    """One record the agent took from a per-entity stream, or a raw record that already
    sits in its entity's partition (then `events` holds it parsed, `value` is unused)."""

    partition: int
    offset: int
    key: bytes | None  # None: a tick
    value: bytes
    events: tuple[Event, ...] | None = None


@dataclass(frozen=True, slots=True)
class Publication:
    """A record to publish, by role (the shell knows each role's topic)."""

    role: Role
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(slots=True)
class Stats:
    """Counts of one batch for the metrics."""

    events_in: int = 0
    events_out: int = 0
    duplicates: int = 0
    late: int = 0
    conflicts: int = 0
    beyond_horizon: int = 0
    unknown_types: int = 0
    projections: int = 0
    compacted: int = 0
    deadlettered: int = 0
    buffer_delta: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    seen_delta: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    entities_delta: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    # ingress receive times of the events whose projection this batch publishes
    received_at: list[int] = field(default_factory=list)


@dataclass(slots=True)
class BatchResult:
    """What the agent does with one batch: publish `publications`, then apply `writes`."""

    writes: dict[int, dict[bytes, bytes | None]]
    publications: list[Publication]
    stats: Stats


class LogCache:
    """Decoded logs of recently touched entities, keyed by the bytes they were decoded from.

    Decoding a log rebuilds every held event, which costs more than the step itself for an
    agent with a long history; the table hands back the very bytes object that was written
    (or equal bytes from RocksDB), so a cached log is reused only while it is still exactly
    what the table holds. Least recently used entries go first.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[bytes, EntityLog]] = OrderedDict()

    def get(self, key: bytes, raw: bytes) -> EntityLog | None:
        """The log decoded from `raw`, if cached."""
        entry = self._entries.get(key)
        if entry is None or (entry[0] is not raw and entry[0] != raw):
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: bytes, raw: bytes, log: EntityLog) -> None:
        """Remember that `raw` decodes to `log`."""
        self._entries[key] = (raw, log)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def discard(self, key: bytes) -> None:
        """Forget a key (its value was deleted)."""
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


def _bucket_ms(policy: Policy) -> int:
    # about 36 buckets over the horizon, none shorter than a minute
    return max(60_000, policy.horizon_ms // 36)


def _wakeups(log: EntityLog, policy: Policy) -> tuple[int | None, int | None]:
    """(flush wake-up, expiry wake-up) of a log."""
    at = next_wakeup_ms(log, policy=policy)
    if at is None:
        return None, None
    return (at, None) if log.buffer else (None, at)


def _ordered_value(event: Event, late: bool) -> bytes:
    doc = event.to_dict()
    doc["late"] = late
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def _event_headers(event: Event, late: bool) -> tuple[tuple[str, bytes], ...]:
    return (
        ("ce_id", event.ce_id.encode()),
        ("ce_type", event.type.encode()),
        ("ce_source", event.ce_source.encode()),
        ("late", b"true" if late else b"false"),
    )


class _Partition:
    """The working state of one partition during one batch."""

    def __init__(
        self,
        kind: EntityKind,
        partition: int,
        get: Callable[[bytes], bytes | None],
        policy: Policy,
        cache: LogCache | None,
    ) -> None:
        self.kind = kind
        self.partition = partition
        self.policy = policy
        self.cache = cache
        self._get = get
        self.values: dict[bytes, bytes | None] = {}
        self.schedule = Schedule.load(partition, get(index_key(partition)), _bucket_ms(policy))

    def get(self, key: bytes) -> bytes | None:
        if key in self.values:
            return self.values[key]
        return self._get(key)

    def load(self, entity_id: str) -> EntityLog | None:
        """The entity's log as the table (or this batch) holds it; None if it has none."""
        key = entity_id.encode()
        raw = self.get(key)
        if raw is None:
            return None
        log = self.cache.get(key, raw) if self.cache is not None else None
        if log is None:
            log = decode_log(raw)
            if self.cache is not None:
                self.cache.put(key, raw, log)
        return log

    def stage(self, entity_id: str, log: EntityLog) -> None:
        """Encode a new log value to be written at the end of the batch."""
        key = entity_id.encode()
        raw = encode_log(log)
        self.values[key] = raw
        if self.cache is not None:
            self.cache.put(key, raw, log)


def _report(
    kind: EntityKind,
    entity_id: str,
    before: EntityLog,
    after: EntityLog,
    outcome: Outcome,
    partition: int,
    publications: list[Publication],
    stats: Stats,
) -> None:
    key = entity_id.encode()
    known = TIEBREAK[kind]
    for event in outcome.released:
        publications.append(
            Publication(
                Role.ORDERED, key, _ordered_value(event, False), _event_headers(event, False)
            )
        )
    for event in outcome.late:
        publications.append(
            Publication(Role.ORDERED, key, _ordered_value(event, True), _event_headers(event, True))
        )
    folded = (*outcome.released, *outcome.late)
    stats.events_out += len(folded)
    stats.late += len(outcome.late)
    stats.unknown_types += sum(1 for e in folded if e.type not in known)
    stats.duplicates += len(outcome.duplicates)
    if outcome.changed:
        publications.append(Publication(Role.PROJECTION, key, projection_bytes(after)))
        stats.projections += 1
        stats.received_at.extend(e.received_at for e in folded if e.received_at is not None)
    for conflict in outcome.conflicts:
        letter = deadletter_document(
            "conflict",
            "same (source, id) with a different payload: the first version is kept",
            {
                "stream": kind.value,
                "entityId": entity_id,
                "kept": conflict.kept.to_dict(),
                "rejected": conflict.rejected.to_dict(),
            },
        )
        publications.append(Publication(Role.DEADLETTER, None, letter))
        stats.conflicts += 1
    for beyond in outcome.beyond_horizon:
        late_doc: dict[str, Any] = {
            "stream": kind.value,
            "entityId": entity_id,
            "reason": beyond.reason.value,
            "behindMs": beyond.behind_ms,
            "watermark": beyond.watermark,
            "floor": beyond.floor,
            "why": beyond.describe(),
            "event": beyond.event.to_dict(),
        }
        publications.append(
            Publication(Role.LATE, key, orjson.dumps(late_doc, option=orjson.OPT_SORT_KEYS))
        )
        stats.beyond_horizon += 1
    if outcome.compacted:
        stats.compacted += 1
    stats.buffer_delta[partition] += len(after.buffer) - len(before.buffer)
    stats.seen_delta[partition] += held_count(after) - held_count(before)


def _bad_record(kind: EntityKind, record: Record, exc: Exception) -> Publication:
    fields = {
        "stream": kind.value,
        "source": {"partition": record.partition, "offset": record.offset},
        "key": record.key.decode(errors="replace") if record.key else None,
        "body": record.value.decode(errors="replace"),
    }
    letter = deadletter_document("bad_stream_record", f"{type(exc).__name__}: {exc}", fields)
    return Publication(Role.DEADLETTER, None, letter)


def process_batch(
    kind: EntityKind,
    records: Sequence[Record],
    get: Callable[[bytes], bytes | None],
    *,
    now_ms: int,
    policy: Policy,
    cache: LogCache | None = None,
) -> BatchResult:
    """Run one batch of a per-entity stream through the core; see the module docstring."""
    publications: list[Publication] = []
    stats = Stats()
    parts: dict[int, _Partition] = {}
    grouped: dict[int, dict[str, list[Event]]] = defaultdict(dict)
    ticked: set[int] = set()
    for record in records:
        if record.partition not in parts:
            parts[record.partition] = _Partition(kind, record.partition, get, policy, cache)
        if record.key is None:
            ticked.add(record.partition)
            continue
        try:
            events = list(record.events) if record.events is not None else unbundle(record.value)
        except (ValueError, KeyError, TypeError) as exc:
            publications.append(_bad_record(kind, record, exc))
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
    _report(part.kind, entity_id, before, after, outcome, part.partition, publications, stats)
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
