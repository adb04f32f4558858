"""The Faust agent: intake -> route -> core -> publish -> write tables. No decisions here.

One agent reads the raw topic and the per-agent and per-task streams (co-partitioned);
`core.pipeline` decides what is processed here and what hops, `core.batch` runs the core,
and the agent waits until Kafka has every output before it writes the tables, so a crash
in between repeats outputs (same revisions) instead of losing them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from wxcc_stream.processors.core.batch import BatchResult, process_batch
from wxcc_stream.processors.core.log_cache import LogCache
from wxcc_stream.processors.core.pipeline import Incoming, Routes, publications, route
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

    async def publish(routes: Routes, results: Mapping[EntityKind, BatchResult]) -> None:
        # whole batches straight to the transport producer (see shell.produce)
        outgoing = BatchProducer(transport_producer(app), context.partitioner)
        for topic, key, value, headers in publications(
            routes, results, role_topics=role_topics, stream_topics=streams,
            deadletter_topic=deadletter,
        ):  # fmt: skip
            await outgoing.add(topic, key, value, headers)
        await asyncio.gather(*await outgoing.send())

    async def process(stream: Any) -> None:
        await context.ensure_declared(topology)
        positions = context.ledger.positions_for("entities")
        async for batch in stream.take_events(w.batch_max_events, w.batch_window_ms / 1000.0):
            events = await take_batch(
                app.consumer, positions, batch, now_ms=clock.now_ms(),
                ends=context.health.end_offsets(), holes_total=context.metrics.offset_holes,
            )  # fmt: skip
            now = clock.now_ms()
            incoming = [_incoming(event) for event in events]
            for m in incoming:
                detector.processed((m.topic, m.partition), m.offset, now)
            count = shared.count(app.consumer)
            routes = route(incoming, kinds, shared_count=count, partition_of=partition_of)
            context.observer.routed(routes.routed, routes.hopped, routes.rejected)
            results = {
                kind: process_batch(
                    kind, recs, tables[kind].get, now_ms=now, policy=policy, cache=caches[kind]
                )
                for kind, recs in routes.records.items()
                if recs
            }
            await publish(routes, results)
            # Kafka has the outputs and the hops: now the tables change
            assignment = app.consumer.assignment()
            owned = {
                k: {tp.partition for tp in assignment if tp.topic == streams[k]} for k in tables
            }
            carriers = {partition: events[i] for partition, i in routes.carriers.items()}
            write_tables(results, tables, caches, owned, carriers)
            done = clock.now_ms()
            for kind, result in results.items():
                context.observer.batch(kind, result.stats, done)

    return process
