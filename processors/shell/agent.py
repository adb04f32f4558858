"""The Faust agent: intake -> route -> core -> publish -> write tables. No decisions here.

One agent reads the raw topic and the per-agent and per-task streams (co-partitioned);
`core.pipeline` decides what is processed here and what hops, `core.batch` runs the core,
and the agent waits until Kafka has every output before it writes the tables, so a crash
in between repeats outputs (same revisions) instead of losing them.

One batch is in flight while the next one runs: batch N+1 is processed against batch N's
values (written or not yet), and its outputs are sent only once N's are acknowledged and
N's tables written. N's input offsets count as finished (committable) only then, so the
order of sends, table writes and commits is the same as one batch at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from wxcc_stream.processors.core.batch import BatchResult, process_batch
from wxcc_stream.processors.core.log_cache import LogCache
from wxcc_stream.processors.core.pipeline import Incoming, Routes, publications, route
from wxcc_stream.processors.core.positions import Positions, Taken
from wxcc_stream.processors.shell.context import ShellContext
from wxcc_stream.processors.shell.faust_private import transport_producer
from wxcc_stream.processors.shell.intake import take_batch
from wxcc_stream.processors.shell.produce import BatchProducer
from wxcc_stream.processors.shell.tables import write_tables
from wxcc_stream.processors.shell.topology import SharedPartitions, Topology
from wxcc_stream.schemas.event import EntityKind

__all__ = ["register_agents"]


def register_agents(app: Any, topology: Topology, context: ShellContext) -> None:
    """Add the one entity agent to `app` (see the module docstring)."""
    app.agent(topology.entity_source, name="wxcc-entities")(_entity_agent(app, topology, context))


def _incoming(event: Any) -> Incoming:
    m = event.message
    return Incoming(
        m.topic, m.partition, m.offset, event.key, event.value, m.headers, int(m.timestamp * 1000)
    )


def _entity_agent(app: Any, topology: Topology, context: ShellContext) -> Any:
    w, policy, clock = context.settings.worker, context.policy, context.clock
    kinds = topology.stream_kinds()
    streams = {kind: name for name, kind in kinds.items()}
    tables = {kind: entity.table for kind, entity in topology.entities.items()}
    caches = {kind: LogCache(w.log_cache_entries) for kind in topology.entities}
    role_topics, deadletter = topology.role_topics(), topology.deadletter.get_topic_name()
    shared = SharedPartitions(topology)
    partition_of = context.partitioner.partition_of
    detector = context.health.detector

    async def publish(
        routes: Routes, results: Mapping[EntityKind, BatchResult]
    ) -> list[asyncio.Future[Any]]:
        # whole batches straight to the transport producer (see shell.produce)
        outgoing = BatchProducer(transport_producer(app), context.partitioner)
        for topic, key, value, headers in publications(
            routes, results, role_topics=role_topics, stream_topics=streams,
            deadletter_topic=deadletter,
        ):  # fmt: skip
            await outgoing.add(topic, key, value, headers)
        return await outgoing.send()

    async def finish(
        delivered: list[asyncio.Future[Any]],
        results: Mapping[EntityKind, BatchResult],
        carriers: Mapping[int, Any],
        unwritten: Unwritten,
        positions: Positions,
        taken: Taken,
    ) -> None:
        await asyncio.gather(*delivered)
        # Kafka has the outputs and the hops: now the tables change
        assignment = app.consumer.assignment()
        owned = {k: {tp.partition for tp in assignment if tp.topic == streams[k]} for k in tables}
        write_tables(results, tables, caches, owned, carriers)
        unwritten.clear()
        positions.settle_taken(taken)
        done = clock.now_ms()
        for kind, result in results.items():
            context.observer.batch(kind, result.stats, done)

    async def process(stream: Any) -> None:
        await context.ensure_declared(topology)
        positions = context.ledger.positions_for("entities")
        in_flight: asyncio.Future[None] | None = None
        unwritten: Unwritten = {}
        try:
            async for batch in stream.take_events(w.batch_max_events, w.batch_window_ms / 1000.0):
                events = await take_batch(
                    app.consumer, positions, batch, now_ms=clock.now_ms(),
                    ends=context.health.end_offsets(), holes_total=context.metrics.offset_holes,
                    settle=False,
                )  # fmt: skip
                taken = positions.taken()
                now = clock.now_ms()
                incoming = [_incoming(event) for event in events]
                for m in incoming:
                    detector.processed((m.topic, m.partition), m.offset, now)
                count = shared.count(app.consumer)
                routes = route(incoming, kinds, shared_count=count, partition_of=partition_of)
                context.observer.routed(routes.routed, routes.hopped, routes.rejected)
                results = {
                    kind: process_batch(
                        kind,
                        recs,
                        _reads(tables[kind], unwritten.get(kind)),
                        now_ms=now,
                        policy=policy,
                        cache=caches[kind],
                    )
                    for kind, recs in routes.records.items()
                    if recs
                }
                if in_flight is not None:
                    await in_flight  # the batch before: acknowledged, written, settled
                    in_flight = None
                delivered = await publish(routes, results)
                unwritten = {
                    kind: {k: v for values in r.writes.values() for k, v in values.items()}
                    for kind, r in results.items()
                }
                carriers = {partition: events[i] for partition, i in routes.carriers.items()}
                in_flight = asyncio.ensure_future(
                    finish(delivered, results, carriers, unwritten, positions, taken)
                )
            if in_flight is not None:
                await in_flight
        finally:
            if in_flight is not None and not in_flight.done():
                # the agent stops or failed: this batch is taken again (not settled)
                in_flight.cancel()

    return process


# per entity kind, the values of the batch in flight not written yet (None: deleted)
Unwritten = dict[EntityKind, dict[bytes, bytes | None]]


def _reads(
    table: Any, unwritten: Mapping[bytes, bytes | None] | None
) -> Callable[[bytes], bytes | None]:
    """`table.get`, or through the values of the batch in flight when it has some."""
    if not unwritten:
        direct: Callable[[bytes], bytes | None] = table.get
        return direct

    def get(key: bytes) -> bytes | None:
        if key in unwritten:
            return unwritten[key]
        value: bytes | None = table.get(key)
        return value

    return get
