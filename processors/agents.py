"""The Faust agents: decode -> core -> publish/assign. No business decisions here.

- one agent reads the raw topic and the per-agent and per-task streams (all co-partitioned):
  a raw record whose entity lives in the partition it was read from is processed there; the
  others (a task leg's copy for its task, records keyed otherwise) hop through the entity's
  stream. A batch -> `process_batch` per kind -> publish ordered events, projections, late
  and dead-letter records and the hops, wait until Kafka has them, then write each touched
  table value once.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from faust.streams import _current_event

from wxcc_stream.base.clock import Clock, SystemClock
from wxcc_stream.base.partitioning import KeyPartitioner
from wxcc_stream.base.settings import Settings
from wxcc_stream.processors.entity import Policy
from wxcc_stream.processors.entity_batch import BatchResult, LogCache, Record, Role, process_batch
from wxcc_stream.processors.liveness import PartitionHealth, StallDetector
from wxcc_stream.processors.metrics import WorkerMetrics
from wxcc_stream.processors.outputs import Outgoing
from wxcc_stream.processors.positions import Positions
from wxcc_stream.processors.rebalance import take_in_order
from wxcc_stream.processors.routing import bundle, shared_partition_count, target_raw
from wxcc_stream.processors.topology import Topology
from wxcc_stream.schemas.event import EntityKind
from wxcc_stream.schemas.raw_record import header_map

__all__ = ["ShellContext", "register_agents"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ShellContext:
    """What the agents, timers and web views of one app share."""

    settings: Settings
    metrics: WorkerMetrics
    detector: StallDetector
    policy: Policy
    health: list[PartitionHealth] = field(default_factory=list)
    stalled_logged: set[tuple[str, int]] = field(default_factory=set)
    declared: bool = False
    _declare_lock: asyncio.Lock | None = None
    # per (stream, partition): [buffered events, seen-set entries, entities] touched here
    totals: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    positions: dict[str, Positions] = field(default_factory=dict)
    partitioner: KeyPartitioner = field(default_factory=KeyPartitioner)
    # the processing time the core is given (injected, so tests can pin it)
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def create(
        cls,
        settings: Settings,
        metrics: WorkerMetrics,
        detector: StallDetector,
        partitioner: KeyPartitioner | None = None,
    ) -> ShellContext:
        """Context for one app, the core policy taken from the worker settings."""
        w = settings.worker
        policy = Policy(
            grace_ms=w.grace_ms, flush_timeout_ms=w.flush_timeout_ms, horizon_ms=w.horizon_ms
        )
        return cls(
            settings=settings,
            metrics=metrics,
            detector=detector,
            policy=policy,
            partitioner=partitioner or KeyPartitioner(),
        )

    async def ensure_declared(self, topology: Topology) -> None:
        """Create every topic (partitions, compaction) before anything is sent to it."""
        if self.declared:
            return
        if self._declare_lock is None:
            self._declare_lock = asyncio.Lock()
        async with self._declare_lock:
            if not self.declared:
                for topic in topology.all_topics():
                    await topic.maybe_declare()
                self.declared = True

    async def check_liveness(self, app: Any, topics: set[str]) -> None:
        """Compare processed positions with end offsets; log and export stalled partitions."""
        now = self.clock.now_ms()
        assigned = [tp for tp in app.consumer.assignment() if tp.topic in topics]
        self.detector.assign(((tp.topic, tp.partition) for tp in assigned), now)
        if not assigned:
            self.health = []
            return
        committed = app.monitor.tp_committed_offsets or {}
        for tp in assigned:
            self.detector.committed((tp.topic, tp.partition), committed.get(tp), now)
            if self.detector.position_of((tp.topic, tp.partition)) is None:
                position = await app.consumer.position(tp)
                self.detector.committed((tp.topic, tp.partition), position, now)
        ends = await app.consumer.highwaters(*assigned)
        self.detector.observe_end_offsets(
            {(tp.topic, tp.partition): e for tp, e in ends.items()}, now
        )
        self.health = self.detector.health(now)
        self._export_health()

    def _export_health(self) -> None:
        m = self.metrics
        stalled = 0
        for h in self.health:
            labels = (h.topic, str(h.partition))
            m.partition_lag.labels(*labels).set(h.lag)
            m.partition_stalled.labels(*labels).set(1 if h.stalled else 0)
            key = (h.topic, h.partition)
            if h.stalled:
                stalled += 1
                if key not in self.stalled_logged:
                    self.stalled_logged.add(key)
                    log.error(
                        "partition %s[%d] stalled: no progress for %d ms with %d records waiting "
                        "(position %s, end %s)",
                        h.topic, h.partition, h.still_for_ms, h.lag, h.position, h.end_offset,
                    )  # fmt: skip
            elif key in self.stalled_logged:
                self.stalled_logged.discard(key)
                log.warning("partition %s[%d] is moving again", h.topic, h.partition)
        m.stalled_partitions.set(stalled)

    def observe_batch(self, kind: EntityKind, result: BatchResult, acked_ms: int) -> None:
        """Feed the metrics from one processed batch."""
        m, s, label = self.metrics, result.stats, kind.value
        for counter, value in (
            (m.events_in, s.events_in),
            (m.events_out, s.events_out),
            (m.duplicates, s.duplicates),
            (m.late, s.late),
            (m.conflicts, s.conflicts),
            (m.beyond_horizon, s.beyond_horizon),
            (m.unknown_types, s.unknown_types),
            (m.projections, s.projections),
            (m.expired, s.compacted),
        ):
            if value:
                counter.labels(label).inc(value)
        if s.conflicts:
            m.deadlettered.labels("conflict").inc(s.conflicts)
        if s.deadlettered:
            m.deadlettered.labels("bad_stream_record").inc(s.deadlettered)
        if s.events_in:
            m.batch_size.labels(label).observe(s.events_in)
        for received in s.received_at:
            m.latency.labels(label).observe(max(0, acked_ms - received) / 1000.0)
        for partition in {*s.buffer_delta, *s.seen_delta, *s.entities_delta}:
            total = self.totals.setdefault((label, partition), [0, 0, 0])
            total[0] += s.buffer_delta.get(partition, 0)
            total[1] += s.seen_delta.get(partition, 0)
            total[2] += s.entities_delta.get(partition, 0)
        sums = [0, 0, 0]
        for (stream, _), total in self.totals.items():
            if stream == label:
                sums = [a + b for a, b in zip(sums, total, strict=True)]
        m.buffer_depth.labels(label).set(sums[0])
        m.seen_set_size.labels(label).set(sums[1])
        m.entities.labels(label).set(sums[2])

    def positions_for(self, agent: str) -> Positions:
        """The offsets one agent took and finished; called when the agent (re)starts.

        A restarted agent (it crashed, or Faust restarted it) did not finish the batch it
        had taken: those records must be taken again.
        """
        positions = self.positions.get(agent)
        if positions is None:
            positions = self.positions[agent] = Positions()
        else:
            positions.restart()
        return positions

    def assigned(self, assigned: set[Any]) -> None:
        """A new assignment: forget positions of partitions owned elsewhere now."""
        tps = [(tp.topic, tp.partition) for tp in assigned]
        for positions in self.positions.values():
            positions.keep_only(tps)

    def forget_partitions(self, revoked: set[Any]) -> None:
        """Partitions moved away: their entities are no longer counted here."""
        for tp in revoked:
            for kind in EntityKind:
                self.totals.pop((kind.value, tp.partition), None)


@contextmanager
def _acting_for(event: Any) -> Iterator[None]:
    """Make `event` the current event, so table writes go to its partition.

    `take_events` hands the agent a list of events but leaves no current event in the
    agent's own task; Faust picks the changelog partition (and RocksDB its database) from
    the current event. Every event of an entity comes from the entity's partition, so any
    event of that partition in the batch is the right one.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def register_agents(app: Any, topology: Topology, context: ShellContext) -> None:
    """Add the one entity agent to `app`: it reads the raw topic and both per-entity
    streams (co-partitioned), so a raw record already in its entity's partition is
    processed where it is read, and only the others take the hop through a stream."""
    app.agent(topology.entity_source, name="wxcc-entities")(_entity_agent(app, topology, context))


async def _watch_offsets(
    app: Any, context: ShellContext, positions: Positions, batch: list[Any]
) -> list[Any]:
    """The events of `batch` to process: each partition's records once, in offset order.

    Faust can drop records around a rebalance and still acknowledge them. The worker
    commits only what its agent finished and, when a record is missing, rewinds the
    consumer to it instead of going on (see `processors.rebalance`); a hole is counted and
    logged once.
    """
    ends = {(h.topic, h.partition): h.end_offset for h in context.health if h.end_offset}
    events, holes = await take_in_order(
        app.consumer, positions, batch, now_ms=context.clock.now_ms(), ends=ends
    )
    for hole in holes:
        topic, partition = hole.tp
        if hole.presumed:
            log.info(
                "%s[%d]: stopped at %d with records up to %d waiting: rewound to %d",
                topic, partition, hole.first, hole.next_seen - 1, hole.first,
            )  # fmt: skip
        elif not hole.repeated:
            holes_total = context.metrics.offset_holes.labels(topic, str(partition))
            holes_total.inc(hole.next_seen - hole.first)
            log.warning(
                "%s[%d]: offsets %d..%d did not reach the agent (dropped by the consumer "
                "around a rebalance, or left by a restarted agent): rewound to %d",
                topic, partition, hole.first, hole.next_seen - 1, hole.first,
            )  # fmt: skip
    return events


def _entity_agent(app: Any, topology: Topology, context: ShellContext) -> Any:
    w = context.settings.worker
    batch_max, within = w.batch_max_events, w.batch_window_ms / 1000.0
    raw_name = topology.raw.get_topic_name()
    kinds = {entity.stream.get_topic_name(): kind for kind, entity in topology.entities.items()}
    tables = {kind: entity.table for kind, entity in topology.entities.items()}
    caches = {kind: LogCache(w.log_cache_entries) for kind in topology.entities}
    targets = {
        kind: {
            Role.ORDERED: entity.ordered.get_topic_name(),
            Role.PROJECTION: entity.projection.get_topic_name(),
            Role.LATE: topology.late.get_topic_name(),
            Role.DEADLETTER: topology.deadletter.get_topic_name(),
        }
        for kind, entity in topology.entities.items()
    }
    streams = {kind: name for name, kind in kinds.items()}
    deadletter = topology.deadletter.get_topic_name()
    partitioner, policy = context.partitioner, context.policy
    # Records go straight to the transport producer (whole batches for the keyed ones, see
    # processors.outputs): Faust's `Topic.send` adds a channel, codecs and a FutureMessage
    # per record, which was most of the per-record cost here.
    producer = app.producer
    shared: list[int | None] = []  # the partition count raw and streams share, once known

    def shared_count() -> int | None:
        if not shared:
            counts = [app.consumer.topic_partitions(name) for name in (raw_name, *kinds)]
            if any(c is None for c in counts):
                return None  # metadata not there yet: take the hop meanwhile
            shared.append(shared_partition_count(counts))
            if shared[0] is None:
                log.warning(
                    "the raw topic and the per-entity streams have different partition "
                    "counts (%s): every raw record goes through its entity's stream",
                    dict(zip((raw_name, *kinds), counts, strict=True)),
                )
        return shared[0]

    async def process(stream: Any) -> None:
        await context.ensure_declared(topology)
        positions = context.positions_for("entities")
        async for batch in stream.take_events(batch_max, within):
            events = await _watch_offsets(app, context, positions, batch)
            now = context.clock.now_ms()
            count = shared_count()
            records: dict[EntityKind, list[Record]] = {kind: [] for kind in tables}
            hops: dict[tuple[EntityKind, bytes], list[bytes]] = {}
            letters: list[bytes] = []
            by_partition: dict[int, Any] = {}
            for event in events:
                message = event.message
                tp = (message.topic, message.partition)
                context.detector.processed(tp, message.offset, now)
                kind = kinds.get(message.topic)
                if kind is not None:  # a per-entity stream: events or a tick
                    by_partition[message.partition] = event
                    records[kind].append(
                        Record(message.partition, message.offset, event.key, event.value)
                    )
                    continue
                routed = target_raw(
                    event.value,
                    header_map(message.headers),
                    timestamp_ms=int(message.timestamp * 1000),
                    source={"topic": tp[0], "partition": tp[1], "offset": message.offset},
                )
                if routed.event is None:
                    assert routed.deadletter is not None
                    letters.append(routed.deadletter)
                    context.metrics.deadlettered.labels(routed.reason or "invalid").inc()
                    continue
                for kind, key in routed.streams:
                    context.metrics.routed.labels(kind.value).inc()
                    if count is not None and partitioner.partition_of(key, count) == tp[1]:
                        by_partition[message.partition] = event
                        records[kind].append(
                            Record(tp[1], message.offset, key, b"", events=(routed.event,))
                        )
                    else:
                        context.metrics.hops.labels(kind.value).inc()
                        hops.setdefault((kind, key), []).append(routed.event.to_json())
            results = {
                kind: process_batch(
                    kind, recs, tables[kind].get, now_ms=now, policy=policy, cache=caches[kind]
                )
                for kind, recs in records.items()
                if recs
            }
            outgoing = Outgoing(producer._ensure_producer(), partitioner)
            for (kind, key), hopping in hops.items():
                await outgoing.add(streams[kind], key, bundle(hopping))
            for kind, result in results.items():
                for o in result.outputs:
                    await outgoing.add(targets[kind][o.role], o.key, o.value, o.headers)
            for letter in letters:
                await outgoing.add(deadletter, None, letter)
            sent = await outgoing.send()
            # Kafka has the outputs (and the hops) before the tables change and before the
            # offsets are committed: a crash in between repeats them on replay (same
            # revisions) instead of losing them.
            await asyncio.gather(*sent)
            assignment = app.consumer.assignment()
            for kind, result in results.items():
                table, cache = tables[kind], caches[kind]
                owned = {tp.partition for tp in assignment if tp.topic == streams[kind]}
                for partition, values in result.writes.items():
                    if owned and partition not in owned:
                        # moved to another worker during this batch: the new owner redoes it
                        # from its committed offset, so its table values are not ours to write
                        continue
                    with _acting_for(by_partition[partition]):
                        for key, value in values.items():
                            if value is None:
                                table.pop(key, None)
                                cache.discard(key)
                            else:
                                table[key] = value
            done = context.clock.now_ms()
            for kind, result in results.items():
                context.observe_batch(kind, result, done)

    return process
