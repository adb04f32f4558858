"""The port ingress stores records through, and its Kafka implementation (aiokafka)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.structs import TopicPartition

from wxcc_stream.base.kafka_topics import TopicError, TopicSpec, ensure_topics
from wxcc_stream.base.partitioning import KeyPartitioner
from wxcc_stream.base.settings import Settings, SettingsError
from wxcc_stream.ingress.errors import PublishError
from wxcc_stream.ingress.records import OutRecord

log = logging.getLogger(__name__)

COMPRESSIONS = ("lz4", "zstd", "snappy", "gzip", "none")
PUBLISHERS = ("aiokafka", "confluent")
# Room for the record's headers and batch overhead on top of the largest body.
_RECORD_OVERHEAD = 64 * 1024


class RawPublisher(Protocol):
    """Stores records durably; `publish` returns only once every record is stored."""

    async def start(self) -> None:
        """Connect; raises PublishError when the store cannot be reached."""

    async def publish(self, records: Sequence[OutRecord]) -> None:
        """Store the records (in order); raises PublishError when that failed."""

    async def ready(self) -> bool:
        """True when the store answers and knows the topics."""

    async def stop(self) -> None:
        """Finish every pending publish, then disconnect."""


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    """What the Kafka publisher needs from the settings."""

    bootstrap: str
    client_id: str
    raw_topic: str
    deadletter_topic: str
    partitions: int
    compression: str
    linger_ms: int
    max_record_bytes: int
    # of the topics it creates
    replication_factor: int = 1
    min_insync_replicas: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaConfig:
        """Pick the fields; an unknown compression is a SettingsError."""
        ingress = settings.ingress
        if ingress.compression not in COMPRESSIONS:
            raise SettingsError(
                f"WXCC_INGRESS_COMPRESSION: expected one of {', '.join(COMPRESSIONS)}, "
                f"got {ingress.compression!r}"
            )
        if ingress.publisher not in PUBLISHERS:
            raise SettingsError(
                f"WXCC_INGRESS_PUBLISHER: expected one of {', '.join(PUBLISHERS)}, "
                f"got {ingress.publisher!r}"
            )
        if ingress.linger_ms < 0:
            raise SettingsError("WXCC_INGRESS_LINGER_MS: must be 0 or more")
        return cls(
            bootstrap=settings.kafka.bootstrap,
            client_id=f"{settings.kafka.client_id}-ingress",
            raw_topic=settings.topic.raw,
            deadletter_topic=settings.topic.deadletter,
            partitions=settings.topic.partitions,
            compression=ingress.compression,
            linger_ms=ingress.linger_ms,
            max_record_bytes=ingress.max_body_bytes * 2 + _RECORD_OVERHEAD,
            replication_factor=settings.topic.replication_factor,
            min_insync_replicas=settings.topic.min_insync_replicas,
        )


def topic_specs(cfg: KafkaConfig) -> list[TopicSpec]:
    """The topics the ingress writes, as it creates them when they are missing."""
    # The raw topic is the system of record that replays start from: keep it forever.
    size = str(cfg.max_record_bytes)
    isr = str(cfg.min_insync_replicas)
    replicas = cfg.replication_factor
    return [
        TopicSpec(
            cfg.raw_topic, cfg.partitions,
            {"retention.ms": "-1", "max.message.bytes": size, "min.insync.replicas": isr},
            replicas,
        ),
        TopicSpec(
            cfg.deadletter_topic, cfg.partitions,
            {"max.message.bytes": size, "min.insync.replicas": isr}, replicas,
        ),
    ]  # fmt: skip


class _Waiter:
    """One `publish` call: done when Kafka acknowledged each of its `remaining` records."""

    __slots__ = ("future", "remaining")

    def __init__(self, future: asyncio.Future[None], remaining: int) -> None:
        self.future = future
        self.remaining = remaining

    def acknowledged(self) -> None:
        self.remaining -= 1
        if self.remaining == 0 and not self.future.done():
            self.future.set_result(None)

    def failed(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


_Queued = list[tuple[OutRecord, _Waiter]]


class _Lane:
    """One topic-partition: the records waiting for it and the task handing them over."""

    __slots__ = ("drainer", "queue", "tp")

    def __init__(self, tp: TopicPartition) -> None:
        self.tp = tp
        self.queue: _Queued = []
        self.drainer: asyncio.Task[None] | None = None


class KafkaRawPublisher:
    """aiokafka producer: idempotent, acks=all, compressed.

    Records of concurrent requests are gathered per partition and handed to aiokafka as
    whole batches (`create_batch`/`send_batch`) while the previous batch of that partition
    is on its way, which costs far less CPU than one `send` (one future, one metadata
    object) per record. Each `publish` returns once every one of its records is acked.
    """

    def __init__(
        self,
        config: KafkaConfig,
        *,
        ready_timeout_s: float = 2.0,
        max_queued_records: int = 100_000,
    ) -> None:
        self._config = config
        self._ready_timeout_s = ready_timeout_s
        self._max_queued = max_queued_records
        self._producer: AIOKafkaProducer | None = None
        self._lanes: dict[TopicPartition, _Lane] = {}
        # each topic's lanes in partition order, until the next metadata update
        self._topic_lanes: dict[str, list[_Lane]] = {}
        self._queued = 0
        # Kafka's default key partitioning, each key's hash remembered (ids repeat all day)
        self._partitioner = KeyPartitioner()

    async def start(self) -> None:
        """Create missing topics, then start the producer (fails if Kafka is unreachable)."""
        cfg = self._config
        try:
            specs = topic_specs(cfg)
            await ensure_topics(cfg.bootstrap, specs, client_id=cfg.client_id, timeout_s=10.0)
        except TopicError as err:
            raise PublishError(str(err)) from err
        producer = AIOKafkaProducer(
            bootstrap_servers=cfg.bootstrap,
            client_id=cfg.client_id,
            acks="all",
            enable_idempotence=True,
            compression_type=None if cfg.compression == "none" else cfg.compression,
            linger_ms=cfg.linger_ms,
            max_request_size=cfg.max_record_bytes,
        )
        try:
            await producer.start()
            for topic in (cfg.raw_topic, cfg.deadletter_topic):
                await producer.partitions_for(topic)  # track both topics' metadata
        except KafkaError as err:
            await producer.stop()
            raise PublishError(f"cannot connect to Kafka at {cfg.bootstrap}: {err}") from err
        producer.client.cluster.add_listener(self._metadata_updated)
        self._producer = producer

    def _metadata_updated(self, cluster: Any) -> None:
        self._topic_lanes.clear()  # the partitions may have changed

    async def _lanes_of(self, producer: AIOKafkaProducer, topic: str) -> list[_Lane]:
        known = producer.client.cluster.partitions_for_topic(topic)
        if not known:
            try:
                known = await producer.partitions_for(topic)
            except KafkaError as err:
                raise PublishError(f"no metadata for topic {topic}: {err}") from err
        lanes = []
        for partition in sorted(known):
            tp = TopicPartition(topic, partition)
            lane = self._lanes.get(tp)
            if lane is None:
                lane = self._lanes[tp] = _Lane(tp)
            lanes.append(lane)
        self._topic_lanes[topic] = lanes
        return lanes

    async def publish(self, records: Sequence[OutRecord]) -> None:
        """Queue the records on their partitions and wait until Kafka acknowledged all."""
        producer = self._producer
        if producer is None:
            raise PublishError("publisher not started")
        count = len(records)
        if not count:
            return
        if self._queued + count > self._max_queued:
            raise PublishError(f"{self._queued} records already wait for Kafka")
        waiter = _Waiter(asyncio.get_running_loop().create_future(), count)
        # no await (no coroutine) per record while the topic's partitions are known
        topic_lanes = self._topic_lanes
        for record in records:
            lanes = topic_lanes.get(record.topic)
            if lanes is None:
                lanes = await self._lanes_of(producer, record.topic)
            if record.key is None:
                lane = lanes[random.randrange(len(lanes))]
            else:
                lane = lanes[self._partitioner.partition_of(record.key, len(lanes))]
            lane.queue.append((record, waiter))
            self._queued += 1
            if lane.drainer is None:
                lane.drainer = asyncio.create_task(self._drain(producer, lane))
        await waiter.future

    async def _drain(self, producer: AIOKafkaProducer, lane: _Lane) -> None:
        """Hand what waits for one partition to aiokafka, a batch at a time, and wait for
        Kafka's answer before the next: records that arrive meanwhile form one bigger batch
        (Kafka's cost is per request far more than per record), without lingering when idle."""
        try:
            while lane.queue:
                items, lane.queue = lane.queue, []
                self._queued -= len(items)
                try:
                    delivered = await self._send_all(producer, lane.tp, items)
                except Exception as err:  # never leave a request waiting on a dead drainer
                    log.exception("could not hand records to aiokafka")
                    failure = PublishError(f"{type(err).__name__}: {err}")
                    for _, waiter in items:
                        waiter.failed(failure)
                    continue
                for settled in delivered:
                    await settled  # never raises: _settle told the waiters how it went
        finally:
            # no await since the queue was last seen empty: a record queued from now on
            # starts a new drainer
            lane.drainer = None

    async def _send_all(
        self, producer: AIOKafkaProducer, tp: TopicPartition, items: _Queued
    ) -> list[asyncio.Future[None]]:
        """Append the records to as few batches as fit; a future per batch, done once its
        waiters know whether Kafka acknowledged it."""
        delivered: list[asyncio.Future[None]] = []
        batch = producer.create_batch()
        waiters: list[_Waiter] = []
        for record, waiter in items:
            headers = list(record.headers)
            if (
                batch.append(timestamp=None, key=record.key, value=record.value, headers=headers)
                is None
            ):
                delivered += await self._send(producer, tp, batch, waiters)
                batch, waiters = producer.create_batch(), []
                batch.append(timestamp=None, key=record.key, value=record.value, headers=headers)
            waiters.append(waiter)
        delivered += await self._send(producer, tp, batch, waiters)
        return delivered

    async def _send(
        self, producer: AIOKafkaProducer, tp: TopicPartition, batch: Any, waiters: list[_Waiter]
    ) -> list[asyncio.Future[None]]:
        try:
            delivered = await producer.send_batch(batch, tp.topic, partition=tp.partition)
        except KafkaError as err:
            error = PublishError(f"Kafka refused the batch for {tp.topic}[{tp.partition}]: {err}")
            for waiter in waiters:
                waiter.failed(error)
            return []
        settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.add_done_callback(partial(_settle, waiters, settled))
        return [settled]

    async def ready(self) -> bool:
        """Fresh cluster metadata within the timeout, listing both topics."""
        producer = self._producer
        if producer is None:
            return False
        try:
            metadata = await asyncio.wait_for(
                producer.client.fetch_all_metadata(), self._ready_timeout_s
            )
        except (KafkaError, TimeoutError, OSError):
            return False
        topics = (self._config.raw_topic, self._config.deadletter_topic)
        return all(metadata.partitions_for_topic(t) for t in topics)

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Hand every queued record to aiokafka, let it deliver them, then close."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        pending = [lane.drainer for lane in self._lanes.values() if lane.drainer is not None]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
        # waits for what is in flight; an idempotent producer retries a batch refused for
        # want of in-sync replicas until it is stopped, so the wait is bounded
        stopping = asyncio.ensure_future(producer.stop())
        done, _ = await asyncio.wait([stopping], timeout=max(1.0, deadline - loop.time()))
        if not done:
            log.error(
                "Kafka did not acknowledge every record within %.0f s of stopping (below "
                "min.insync.replicas?); their requests were answered 503, never 2xx",
                timeout_s,
            )
            _give_up_unacknowledged(producer)
            await asyncio.wait([stopping], timeout=10.0)
            if stopping.done() and not stopping.cancelled() and stopping.exception():
                # a request still in flight may come back for a batch failed above, and
                # aiokafka's sender trips over it (KeyError in reenqueue): expected here
                log.warning("aiokafka stopped with %r after abandoning", stopping.exception())
                return
        if stopping.done():
            stopping.result()


def _give_up_unacknowledged(producer: AIOKafkaProducer) -> None:
    """Fail the batches aiokafka still retries, so that its stop() completes and leaves no
    task behind (aiokafka has no public way to abandon them)."""
    accumulator = getattr(producer, "_message_accumulator", None)
    if accumulator is not None:
        accumulator.fail_all(KafkaTimeoutError("not acknowledged before the ingress stopped"))


def _settle(
    waiters: list[_Waiter], settled: asyncio.Future[None], delivered: asyncio.Future[Any]
) -> None:
    """Tell a batch's waiters how it went, then mark it settled for its drainer."""
    error = None if delivered.cancelled() else delivered.exception()
    if delivered.cancelled() or error is not None:
        failure = PublishError(f"Kafka did not acknowledge the batch: {error or 'cancelled'}")
        for waiter in waiters:
            waiter.failed(failure)
    else:
        for waiter in waiters:
            waiter.acknowledged()
    if not settled.done():
        settled.set_result(None)
