"""A batch's output records, handed to aiokafka as whole per-partition batches.

One `send` per record costs a future, a metadata object and a partitioner call each;
`create_batch`/`send_batch` appends a partition's records to one batch, in the order they
were added (docs/processors.md, "Producing").
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

from aiokafka.errors import KafkaError

from wxcc_stream.base.partitioning import KeyPartitioner
from wxcc_stream.processors.errors import ProcessorError

__all__ = ["BatchProducer", "OutputError"]

Headers = Sequence[tuple[str, bytes]]
_Row = tuple[bytes | None, bytes, list[tuple[str, bytes]] | None]


class OutputError(ProcessorError):
    """Kafka refused an output batch."""


class BatchProducer:
    """Output records of one processing batch, grouped by topic and partition."""

    __slots__ = ("_by_partition", "_counts", "_partitioner", "_producer")

    def __init__(self, producer: Any, partitioner: KeyPartitioner) -> None:
        self._producer = producer  # an AIOKafkaProducer
        self._partitioner = partitioner
        self._counts: dict[str, int] = {}
        self._by_partition: dict[tuple[str, int], list[_Row]] = {}

    async def add(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Headers = (),
        partition: int | None = None,
    ) -> None:
        """Queue one record, on `partition` or placed as Kafka's default partitioner places
        it: by the key's hash, or on any partition when it has no key."""
        if partition is None:
            count = self._counts.get(topic)
            if count is None:
                count = self._counts[topic] = await self._partition_count(topic)
            if key is None:
                partition = random.randrange(count)
            else:
                partition = self._partitioner.partition_of(key, count)
        tp = (topic, partition)
        rows = self._by_partition.get(tp)
        if rows is None:
            rows = self._by_partition[tp] = []
        rows.append((key, value, list(headers) or None))

    async def _partition_count(self, topic: str) -> int:
        producer = self._producer
        known = producer.client.cluster.partitions_for_topic(topic)
        if not known:
            try:
                known = await producer.partitions_for(topic)
            except KafkaError as err:
                raise OutputError(f"no metadata for topic {topic}: {err}") from err
        # Kafka numbers partitions 0..n-1, so a key's index is its partition
        return len(known)

    async def send(self) -> list[asyncio.Future[Any]]:
        """Hand every queued record to aiokafka; one future per batch, done when acked."""
        producer = self._producer
        delivered: list[asyncio.Future[Any]] = []
        for (topic, partition), rows in self._by_partition.items():
            batch = producer.create_batch()
            for key, value, headers in rows:
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    delivered.append(await self._send(batch, topic, partition))
                    batch = producer.create_batch()
                    if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                        # larger than a batch (a head's piece, 512 KiB): a send of its own
                        alone = await self._send_one(topic, partition, key, value, headers)
                        delivered.append(alone)
            delivered.append(await self._send(batch, topic, partition))
        self._by_partition = {}
        return delivered

    async def _send_one(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes]] | None,
    ) -> asyncio.Future[Any]:
        try:
            future: asyncio.Future[Any] = await self._producer.send(
                topic, value, key=key, partition=partition, headers=headers
            )
        except KafkaError as err:
            raise OutputError(f"Kafka refused a record for {topic}[{partition}]: {err}") from err
        return future

    async def _send(self, batch: Any, topic: str, partition: int) -> asyncio.Future[Any]:
        try:
            future: asyncio.Future[Any] = await self._producer.send_batch(
                batch, topic, partition=partition
            )
        except KafkaError as err:
            raise OutputError(f"Kafka refused a batch for {topic}[{partition}]: {err}") from err
        return future
