"""The job's Kafka side: its checkpoint topic, what the raw topic already holds, the
current projections, and an idempotent acks=all producer for what it injects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from wxcc_stream.base.kafka_topics import TopicError, TopicSpec, ensure_topics
from wxcc_stream.base.settings import Settings
from wxcc_stream.reconcile.errors import ReconcileError
from wxcc_stream.reconcile.job import Checkpoint, Identity, Known, remember
from wxcc_stream.reconcile.records import RawOut, identity_of
from wxcc_stream.schemas.cloudevent import parse_event_bytes
from wxcc_stream.schemas.errors import SchemaError

# A webhook about an event reaches Kafka after the event (its record time is later), so a
# scan for a window's events starts at the window; the margin allows for clock skew.
SCAN_MARGIN_MS = 3_600_000
METADATA_ATTEMPTS = 5


class KafkaFailed(ReconcileError):
    """Kafka refused or lost what the job wrote; what was acknowledged stays (rerun)."""


@dataclass(frozen=True, slots=True)
class JobTopics:
    """The topics the job reads and writes."""

    raw: str
    checkpoints: str
    agent_state: str
    task_lifecycle: str
    partitions: int

    @classmethod
    def from_settings(cls, settings: Settings) -> JobTopics:
        """From the topic settings (prefix, partitions)."""
        t = settings.topic
        return cls(t.raw, t.reconcile_checkpoints, t.agent_state, t.task_lifecycle, t.partitions)


async def ensure_job_topics(bootstrap: str, topics: JobTopics) -> None:
    """The raw topic (as the ingress makes it when missing) and the compacted checkpoints."""
    try:
        await _ensure(bootstrap, topics)
    except TopicError as err:
        raise KafkaFailed(str(err)) from err


async def _ensure(bootstrap: str, topics: JobTopics) -> None:
    await ensure_topics(
        bootstrap,
        [
            TopicSpec(topics.raw, topics.partitions),
            TopicSpec(topics.checkpoints, 1, {"cleanup.policy": "compact"}),
        ],
    )


async def read_records(bootstrap: str, topic: str, since_ms: int | None) -> AsyncIterator[Any]:
    """Every record of `topic` written at or after `since_ms` (None: all), up to the end
    the topic had when the reading began."""
    # earliest: assign() starts a position reset in the background, and a reset to the
    # latest offset that lands after our seek would read the topic as empty
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    try:
        await consumer.start()
    except KafkaError as err:
        raise KafkaFailed(f"cannot read {topic}: {err}") from err
    try:
        parts = await _partitions(consumer, topic)
        if not parts:
            return
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        if since_ms is None:
            # explicit positions: seek_to_beginning only requests a reset, which a reset
            # already in flight (to another offset) can answer
            begins = await consumer.beginning_offsets(parts)
            for tp in parts:
                consumer.seek(tp, begins[tp])
        else:
            found = await consumer.offsets_for_times({tp: max(since_ms, 0) for tp in parts})
            for tp in parts:  # nothing written since then: start at the end
                consumer.seek(tp, found[tp].offset if found.get(tp) else ends[tp])
        waiting = {tp for tp in parts if ends[tp] > await consumer.position(tp)}
        while waiting:
            batch = await consumer.getmany(*waiting, timeout_ms=500)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield record
            for tp in list(waiting):
                if await consumer.position(tp) >= ends[tp]:
                    waiting.discard(tp)
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The topic's partitions; none if the broker says it does not exist. A metadata
    request that fails (a loaded broker) is asked again, then raised: reading it as an
    empty topic would count every known event as missing."""
    for attempt in range(METADATA_ATTEMPTS):
        # aiokafka has no public refresh that fills partitions_for_topic
        if await consumer._client.force_metadata_update():
            found = consumer.partitions_for_topic(topic) or ()
            return [TopicPartition(topic, p) for p in sorted(found)]
        if attempt + 1 < METADATA_ATTEMPTS:
            await asyncio.sleep(0.2 * (attempt + 1))
    raise KafkaFailed(f"cannot read {topic}: no metadata from the broker")


async def read_checkpoint(bootstrap: str, topics: JobTopics, key: str) -> Checkpoint | None:
    """The last checkpoint stored under `key` (None: never run)."""
    found: Checkpoint | None = None
    async for record in read_records(bootstrap, topics.checkpoints, None):
        if record.key == key.encode():
            found = None if record.value is None else Checkpoint.from_json(record.value)
    return found


async def known_events(bootstrap: str, topics: JobTopics, since_ms: int) -> dict[Identity, Known]:
    """The semantic identity of every event in the raw topic written since `since_ms`
    (less a margin), and whether a webhook or a reconciliation put it there."""
    known: dict[Identity, Known] = {}
    async for record in read_records(bootstrap, topics.raw, since_ms - SCAN_MARGIN_MS):
        try:
            event = parse_event_bytes(record.value)
        except SchemaError:
            continue  # the processors dead-letter it; it delivered nothing
        remember(known, identity_of(event), Known.RECONCILED if event.reconciled else Known.WEBHOOK)
    return known


async def read_projections(bootstrap: str, topic: str) -> dict[str, dict[str, Any]]:
    """The newest document per key of a projection topic (highest revision)."""
    docs: dict[str, dict[str, Any]] = {}
    async for record in read_records(bootstrap, topic, None):
        if record.key is None or record.value is None:
            continue
        doc = orjson.loads(record.value)
        key = record.key.decode()
        if key not in docs or doc.get("revision", 0) >= docs[key].get("revision", 0):
            docs[key] = doc
    return docs


class Injector:
    """Publishes a window's events (idempotent, acks=all), then its checkpoint."""

    def __init__(self, bootstrap: str, topics: JobTopics, client_id: str) -> None:
        self._topics = topics
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=10,
        )

    async def start(self) -> None:
        """Connect."""
        await self._producer.start()

    async def stop(self) -> None:
        """Flush and disconnect."""
        await self._producer.stop()

    async def publish(self, records: Sequence[RawOut]) -> None:
        """Send every record to the raw topic and wait until all are acknowledged."""
        try:
            futures = [
                await self._producer.send(
                    self._topics.raw, value=r.value, key=r.key, headers=list(r.headers)
                )
                for r in records
            ]
            for future in futures:
                await future
        except KafkaError as err:
            raise KafkaFailed(f"publishing to {self._topics.raw} failed: {err}") from err

    async def checkpoint(self, key: str, checkpoint: Checkpoint) -> None:
        """Store a checkpoint and wait for its acknowledgement."""
        try:
            await self._producer.send_and_wait(
                self._topics.checkpoints, value=checkpoint.to_json(), key=key.encode()
            )
        except KafkaError as err:
            raise KafkaFailed(f"writing the checkpoint failed: {err}") from err
