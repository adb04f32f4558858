"""The worker's batched outputs on the real broker: each record in the partition Kafka's
default partitioner picks for its key, in the order added, with its headers."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]

from tests.kafka_helpers import create_topics, read_all
from wxcc_stream.base.partitioning import KeyPartitioner
from wxcc_stream.processors.shell.produce import BatchProducer

pytestmark = pytest.mark.broker

PARTITIONS = 4


async def test_outgoing_records_land_where_kafka_would_put_them_in_order(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    ordered, other = f"{topic_prefix}.ordered", f"{topic_prefix}.other"
    await create_topics(kafka_bootstrap, [ordered, other], partitions=PARTITIONS)
    # a small batch size, so one partition's records need several batches
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", max_batch_size=2048)
    await producer.start()
    keys = [f"agent-{n}".encode() for n in range(12)]
    sent: list[tuple[str, bytes | None, bytes]] = []
    try:
        outgoing = BatchProducer(producer, KeyPartitioner())
        for n in range(600):
            key = keys[n % len(keys)]
            value = f"{n:05d}".encode() * 10
            await outgoing.add(ordered, key, value, (("n", str(n).encode()),))
            sent.append((ordered, key, value))
        for n in range(5):
            await outgoing.add(other, None, f"letter-{n}".encode())
            sent.append((other, None, f"letter-{n}".encode()))
        delivered = await outgoing.send()
        assert len(delivered) > PARTITIONS  # the batches really were split
        await asyncio.gather(*delivered)
    finally:
        await producer.stop()

    records = await read_all(kafka_bootstrap, ordered, expected=600)
    default = DefaultPartitioner()
    by_key: dict[bytes, list[bytes]] = defaultdict(list)
    for record in records:
        assert record.partition == default(record.key, list(range(PARTITIONS)), [])
        by_key[record.key].append(record.value)
        assert dict(record.headers) == {"n": str(int(record.value[:5])).encode()}
    expected: dict[bytes, list[bytes]] = defaultdict(list)
    for topic, key, value in sent:
        if topic == ordered and key is not None:
            expected[key].append(value)
    assert by_key == expected  # every record, each key's in the order added
    letters = await read_all(kafka_bootstrap, other, expected=5)
    assert sorted(r.value for r in letters) == [f"letter-{n}".encode() for n in range(5)]
