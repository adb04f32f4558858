"""Topics and tables of the processors, declared on a given app (never at import time)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wxcc_stream.base.kafka_topics import TopicSpec
from wxcc_stream.base.settings import Settings
from wxcc_stream.processors.core.report import Role
from wxcc_stream.processors.core.routing import shared_partition_count
from wxcc_stream.schemas.event import EntityKind

__all__ = [
    "EntityTopology",
    "SharedPartitions",
    "Topology",
    "declare_topology",
    "entity_table_name",
    "entity_topic_names",
    "repartition_topic_name",
    "topic_specs",
    "worker_generation",
]

log = logging.getLogger(__name__)

# Keys are entity ids as UTF-8 bytes, values bytes we encode ourselves (orjson), so the
# shell decides every byte that reaches Kafka and a table value restores unchanged.
_RAW = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
_COMPACTED = {"cleanup.policy": "compact"}
# The raw topic is the system of record replays start from: keep it (when we create it).
_RAW_CONFIG = {"retention.ms": "-1"}


def worker_generation(settings: Settings) -> int:
    """The topic generation the worker writes (`WXCC_WORKER_GENERATION`; 0, "follow", is
    resolved to a number before the app is built, and means 1 where it was not)."""
    return max(1, settings.worker.generation)


def repartition_topic_name(settings: Settings, kind: EntityKind) -> str:
    """The internal per-entity stream of a kind, keyed by the entity id (one per generation:
    a generation may have another partition count)."""
    stream = settings.topic.name(f"{kind.value}-events.by-entity")
    return settings.topic.in_generation(stream, worker_generation(settings))


def entity_table_name(kind: EntityKind) -> str:
    """The Faust table of a kind's entity logs (its changelog: `<app id>-<name>-changelog`)."""
    return f"{kind.value}-entities"


def entity_topic_names(settings: Settings) -> dict[EntityKind, tuple[str, str]]:
    """Per kind, the (ordered, projection) topics the worker writes, in its generation."""
    t, generation = settings.topic, worker_generation(settings)
    return {
        EntityKind.AGENT: (
            t.in_generation(t.agent_events_ordered, generation),
            t.in_generation(t.agent_state, generation),
        ),
        EntityKind.TASK: (
            t.in_generation(t.task_events_ordered, generation),
            t.in_generation(t.task_lifecycle, generation),
        ),
    }


@dataclass(frozen=True, slots=True)
class EntityTopology:
    """Everything one per-entity stream (agent or task) reads and writes."""

    kind: EntityKind
    stream: Any  # faust.TopicT: normalised events and tick records, keyed by entity id
    table: Any  # faust.Table: entity id -> serialised EntityLog (plus the pending index)
    ordered: Any  # faust.TopicT: released events in contract order
    projection: Any  # faust.TopicT, compacted: entity id -> projection document


@dataclass(frozen=True, slots=True)
class Topology:
    """The processors' topics and tables on one app."""

    raw: Any
    late: Any
    deadletter: Any
    entities: Mapping[EntityKind, EntityTopology]
    # what the entity agent subscribes to: the raw topic and both per-entity streams
    entity_source: Any

    def stream_kinds(self) -> dict[str, EntityKind]:
        """Topic name -> kind of the per-entity streams."""
        return {e.stream.get_topic_name(): kind for kind, e in self.entities.items()}

    def role_topics(self) -> dict[EntityKind, dict[Role, str]]:
        """Per stream, the topic of each output role."""
        late, deadletter = self.late.get_topic_name(), self.deadletter.get_topic_name()
        return {
            kind: {
                Role.ORDERED: e.ordered.get_topic_name(),
                Role.PROJECTION: e.projection.get_topic_name(),
                Role.LATE: late,
                Role.DEADLETTER: deadletter,
            }
            for kind, e in self.entities.items()
        }

    def all_topics(self) -> list[Any]:
        """Every topic the worker reads or writes (for declaring them at start)."""
        topics = [self.raw, self.late, self.deadletter]
        for entity in self.entities.values():
            topics += [entity.stream, entity.ordered, entity.projection]
        return topics


def declare_topology(app: Any, settings: Settings) -> Topology:
    """Declare the topics and the two entity tables on `app` (a `faust.App`)."""
    t = settings.topic
    partitions = t.partitions
    replicas = t.replication_factor

    def topic(name: str, config: Mapping[str, str] | None = None, **extra: Any) -> Any:
        return app.topic(
            name, partitions=partitions, replicas=replicas, config=t.configs(config), **_RAW,
            **extra,
        )  # fmt: skip

    entities = {}
    for kind, (ordered, projection) in entity_topic_names(settings).items():
        entities[kind] = EntityTopology(
            kind=kind,
            stream=topic(repartition_topic_name(settings, kind), internal=True),
            table=app.Table(
                entity_table_name(kind),
                partitions=partitions,
                # key_type/value_type bytes make the changelog serializers raw too
                key_type=bytes,
                value_type=bytes,
                help=f"per-{kind.value} log: seen-set, reorder buffer, history and state",
            ),
            ordered=topic(ordered),
            projection=topic(projection, _COMPACTED),
        )
    raw = topic(t.raw, _RAW_CONFIG)
    streams = [entity.stream.get_topic_name() for entity in entities.values()]
    return Topology(
        raw=raw,
        late=topic(t.late),
        deadletter=topic(t.deadletter),
        entities=entities,
        # one subscription, so Faust assigns partition p of all three to the same worker
        # (its assignor co-partitions co-subscribed topics of equal partition counts)
        entity_source=app.topic(raw.get_topic_name(), *streams, **_RAW),
    )


def topic_specs(settings: Settings, changelogs: Iterable[str]) -> list[TopicSpec]:
    """Every topic the worker reads or writes, its tables' changelogs included, as the
    worker creates them (the same configs `declare_topology` gives Faust)."""
    t = settings.topic
    names: dict[str, Mapping[str, str]] = {t.raw: _RAW_CONFIG, t.late: {}, t.deadletter: {}}
    for kind, (ordered, projection) in entity_topic_names(settings).items():
        names[repartition_topic_name(settings, kind)] = {}
        names[ordered] = {}
        names[projection] = _COMPACTED
    for changelog in changelogs:
        names[changelog] = _COMPACTED
    return [
        TopicSpec(name, t.partitions, t.configs(cfg), t.replication_factor)
        for name, cfg in names.items()
    ]


class SharedPartitions:
    """The partition count the raw topic and the per-entity streams share, read again
    for every batch: the raw topic may grow (`wxcc-stream topics scale`) while the worker
    runs, and from then on the assignor no longer puts raw partition p with stream
    partition p, so no raw record may be processed where it was read."""

    def __init__(self, topology: Topology) -> None:
        self._raw = topology.raw.get_topic_name()
        self._names = (self._raw, *topology.stream_kinds())
        self._warned = False

    def count(self, consumer: Any) -> int | None:
        """The shared count; None while the metadata is missing (every raw record takes
        the hop meanwhile) or when the counts differ (then always)."""
        counts = [consumer.topic_partitions(name) for name in self._names]
        # an assignment made on newer metadata than ours: the raw topic has grown
        assigned = [tp.partition for tp in consumer.assignment() if tp.topic == self._raw]
        if assigned and counts[0] is not None:
            counts[0] = max(counts[0], max(assigned) + 1)
        shared = shared_partition_count(counts)
        if shared is None and None not in counts and not self._warned:
            self._warned = True
            log.warning(
                "the raw topic and the per-entity streams have different partition "
                "counts (%s): every raw record goes through its entity's stream",
                dict(zip(self._names, counts, strict=True)),
            )
        return shared
