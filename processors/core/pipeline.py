"""The agent's decisions, pure: where each input record is processed, and where outputs go.

A raw record whose entity lives in the partition it was read from is processed there; the
others (a task leg's copy for its task, records keyed otherwise) hop through the entity's
stream. A raw record that does not parse is dead-lettered. After the core has run, each
role's records go to that role's topic, and table values are written only for the
partitions this worker still owns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wxcc_stream.processors.core.batch import BatchResult, Record
from wxcc_stream.processors.core.report import Role
from wxcc_stream.processors.core.routing import bundle, target_raw
from wxcc_stream.schemas.event import EntityKind
from wxcc_stream.schemas.raw_record import header_map

__all__ = ["Incoming", "Outgoing", "Routes", "owned_writes", "publications", "route"]

PartitionOf = Callable[[bytes, int], int]
"""Kafka's key partitioning: (key, partition count) -> partition."""
Outgoing = tuple[str, bytes | None, bytes, tuple[tuple[str, bytes], ...]]
"""(topic, key, value, headers) of one record to send."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One input record as the agent read it (from the raw topic or an entity stream)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Any  # Kafka headers: pairs or a mapping
    timestamp_ms: int


@dataclass(slots=True)
class Routes:
    """Where the records of one batch go.

    `records`: per stream, what the core processes here; `hops`: normalised events per
    (stream, entity key) to send through the entity's stream; `letters`: dead-letter
    documents. `carriers`: per partition, the index of an input record read from it (table
    writes of that partition are made on its behalf).
    """

    records: dict[EntityKind, list[Record]]
    hops: dict[tuple[EntityKind, bytes], list[bytes]] = field(default_factory=dict)
    letters: list[bytes] = field(default_factory=list)
    carriers: dict[int, int] = field(default_factory=dict)
    routed: Counter[EntityKind] = field(default_factory=Counter)
    hopped: Counter[EntityKind] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)


def route(
    batch: Sequence[Incoming],
    streams: Mapping[str, EntityKind],
    *,
    shared_count: int | None,
    partition_of: PartitionOf,
) -> Routes:
    """Sort a batch: stream records (events or ticks) and raw records whose entity lives
    in their partition are processed here, other raw records hop, bad ones are letters.

    `streams`: topic name -> kind of the per-entity streams; `shared_count`: the partition
    count the raw topic and the streams share (None: every raw record hops).
    """
    routes = Routes(records={kind: [] for kind in streams.values()})
    for index, message in enumerate(batch):
        kind = streams.get(message.topic)
        if kind is not None:  # a per-entity stream: events or a tick
            routes.carriers[message.partition] = index
            routes.records[kind].append(
                Record(message.partition, message.offset, message.key, message.value or b"")
            )
            continue
        _route_raw(routes, index, message, shared_count, partition_of)
    return routes


def _route_raw(
    routes: Routes,
    index: int,
    message: Incoming,
    shared_count: int | None,
    partition_of: PartitionOf,
) -> None:
    source = {"topic": message.topic, "partition": message.partition, "offset": message.offset}
    routed = target_raw(
        message.value,
        header_map(message.headers),
        timestamp_ms=message.timestamp_ms,
        source=source,
    )
    if routed.event is None:
        assert routed.deadletter is not None
        routes.letters.append(routed.deadletter)
        routes.rejected[routed.reason or "invalid"] += 1
        return
    for kind, key in routed.streams:
        routes.routed[kind] += 1
        if shared_count is not None and partition_of(key, shared_count) == message.partition:
            routes.carriers[message.partition] = index
            routes.records[kind].append(
                Record(message.partition, message.offset, key, b"", events=(routed.event,))
            )
        else:
            routes.hopped[kind] += 1
            routes.hops.setdefault((kind, key), []).append(routed.event.to_json())


def publications(
    routes: Routes,
    results: Mapping[EntityKind, BatchResult],
    *,
    role_topics: Mapping[EntityKind, Mapping[Role, str]],
    stream_topics: Mapping[EntityKind, str],
    deadletter_topic: str,
) -> Iterable[Outgoing]:
    """Every record the batch sends, in order: the hops, each stream's outputs in its
    role's topic, then the raw records' dead letters."""
    for (kind, key), hopping in routes.hops.items():
        yield stream_topics[kind], key, bundle(hopping), ()
    for kind, result in results.items():
        topics = role_topics[kind]
        for out in result.publications:
            yield topics[out.role], out.key, out.value, out.headers
    for letter in routes.letters:
        yield deadletter_topic, None, letter, ()


def owned_writes(
    result: BatchResult, owned: set[int]
) -> Iterable[tuple[int, dict[bytes, bytes | None]]]:
    """The table writes of the partitions still ours (all of them when `owned` is empty:
    the assignment is not known). A partition moved to another worker during the batch is
    redone by the new owner from its committed offset: its table values are not ours."""
    for partition, values in result.writes.items():
        if not owned or partition in owned:
            yield partition, values
