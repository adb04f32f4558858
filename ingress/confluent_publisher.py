"""The Kafka publisher on librdkafka (confluent-kafka): the same port as the aiokafka one.

librdkafka batches, compresses and sends on its own C threads; the event loop only hands
each record over (`produce`, a few microseconds) and is told of the acknowledgements: a
thread polls the producer for delivery reports and passes each poll's reports to the
loop in one `call_soon_threadsafe`, where they settle the waiting requests. A `publish`
returns only once librdkafka reported every one of its records acknowledged by the
broker (idempotent, acks=all), as `KafkaRawPublisher` does.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from contextlib import suppress
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from wxcc_stream.base.kafka_topics import TopicError, ensure_topics
from wxcc_stream.ingress.errors import PublishError
from wxcc_stream.ingress.publisher import KafkaConfig, topic_specs
from wxcc_stream.ingress.records import OutRecord

log = logging.getLogger(__name__)

_POLL_S = 0.05


class _Waiter:
    """One `publish` call: done when librdkafka reported each of its records delivered."""

    __slots__ = ("future", "remaining")

    def __init__(self, future: asyncio.Future[None], remaining: int) -> None:
        self.future = future
        self.remaining = remaining


# a delivery report as the poll thread hands it to the loop: the waiter, and the error
_Report = tuple[_Waiter, KafkaError | None]


class ConfluentRawPublisher:
    """confluent-kafka producer: idempotent, acks=all, compressed, Java-compatible key
    partitioning (murmur2, as `KafkaRawPublisher` and the processors place keys)."""

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
        self._producer: Producer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: threading.Thread | None = None
        self._polling = threading.Event()
        # filled by the delivery callbacks during one poll, on the poll thread
        self._reports: list[_Report] = []

    def _producer_config(self) -> dict[str, Any]:
        cfg = self._config
        return {
            "bootstrap.servers": cfg.bootstrap,
            "client.id": cfg.client_id,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": cfg.compression,
            "linger.ms": cfg.linger_ms,
            "message.max.bytes": cfg.max_record_bytes,
            # Kafka's default partitioner (the Java client's): records of one key land where
            # the aiokafka publisher put them before
            "partitioner": "murmur2_random",
            "queue.buffering.max.messages": self._max_queued,
            # a record not acknowledged within this is reported failed (never silently kept)
            "message.timeout.ms": 300_000,
            "error_cb": self._on_error,
        }

    async def start(self) -> None:
        """Create missing topics, then connect (fails if Kafka is unreachable)."""
        cfg = self._config
        try:
            specs = topic_specs(cfg)
            await ensure_topics(cfg.bootstrap, specs, client_id=cfg.client_id, timeout_s=10.0)
        except TopicError as err:
            raise PublishError(str(err)) from err
        loop = self._loop = asyncio.get_running_loop()
        producer = Producer(self._producer_config())
        try:
            metadata = await loop.run_in_executor(None, producer.list_topics, None, 10.0)
        except KafkaException as err:
            raise PublishError(f"cannot connect to Kafka at {cfg.bootstrap}: {err}") from err
        missing = [t for t in (cfg.raw_topic, cfg.deadletter_topic) if t not in metadata.topics]
        if missing:
            raise PublishError(f"no metadata for topics {', '.join(missing)}")
        self._producer = producer
        self._polling.set()
        self._poller = threading.Thread(
            target=self._poll_loop, args=(producer,), name="kafka-delivery-reports", daemon=True
        )
        self._poller.start()

    def _on_error(self, error: KafkaError) -> None:
        # librdkafka retries transient errors itself; a fatal one (idempotence broken)
        # fails the records in flight through their delivery reports
        log.warning("librdkafka: %s", error)

    def _delivered(self, waiter: _Waiter, error: KafkaError | None, message: Message) -> None:
        """A delivery report (on the poll thread, or flush's): kept until the poll returns."""
        self._reports.append((waiter, error))

    def _poll_loop(self, producer: Producer) -> None:
        loop = self._loop
        assert loop is not None
        while self._polling.is_set():
            try:
                producer.poll(_POLL_S)
            except Exception:  # a dead poll thread would leave every request waiting: go on
                log.exception("polling librdkafka for delivery reports failed")
            self._hand_over(loop)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._reports:
            reports, self._reports = self._reports, []
            with suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, reports)

    async def publish(self, records: Sequence[OutRecord]) -> None:
        """Hand the records to librdkafka and wait until Kafka acknowledged all."""
        producer = self._producer
        if producer is None:
            raise PublishError("publisher not started")
        if not records:
            return
        loop = self._loop
        assert loop is not None
        waiter = _Waiter(loop.create_future(), len(records))
        report = partial(self._delivered, waiter)
        for index, record in enumerate(records):
            try:
                producer.produce(
                    record.topic,
                    record.value,
                    record.key,
                    headers=list(record.headers),
                    on_delivery=report,
                )
            except (BufferError, KafkaException) as err:
                # the records handed over before still get their reports: ignored then
                waiter.future.cancel()
                raise PublishError(
                    f"librdkafka refused record {index + 1} of {len(records)}: {err}"
                ) from err
        await waiter.future

    async def ready(self) -> bool:
        """Fresh cluster metadata within the timeout, listing both topics."""
        producer, loop = self._producer, self._loop
        if producer is None or loop is None:
            return False
        try:
            metadata = await loop.run_in_executor(
                None, producer.list_topics, None, self._ready_timeout_s
            )
        except KafkaException:
            return False
        topics = (self._config.raw_topic, self._config.deadletter_topic)
        return all(
            t in metadata.topics
            and metadata.topics[t].error is None
            and metadata.topics[t].partitions
            for t in topics
        )

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Let librdkafka deliver what it holds (up to `timeout_s`), fail what is left, close."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        self._polling.clear()
        poller, self._poller = self._poller, None
        loop = asyncio.get_running_loop()
        if poller is not None:
            await loop.run_in_executor(None, poller.join)
        # flush polls too: the reports it serves are handed over below
        left = await loop.run_in_executor(None, producer.flush, timeout_s)
        if left:
            log.error(
                "Kafka did not acknowledge %d records within %.0f s of stopping (below "
                "min.insync.replicas?); their requests were answered 503, never 2xx",
                left,
                timeout_s,
            )
            producer.purge()
            await loop.run_in_executor(None, producer.flush, 1.0)
        self._hand_over(loop)
        await asyncio.sleep(0)  # run the last settle before the caller moves on


def _settle(reports: list[_Report]) -> None:
    """On the loop: count each acknowledgement; the first failure fails the publish."""
    for waiter, error in reports:
        future = waiter.future
        if future.done():
            continue
        if error is not None:
            future.set_exception(PublishError(f"Kafka did not acknowledge the record: {error}"))
        else:
            waiter.remaining -= 1
            if waiter.remaining == 0:
                future.set_result(None)
