"""The job's raw-topic scan (`reconcile.kafka.read_records`) against the real broker:
every record of every partition up to the end the topic had when the reading began,
from a time on; a topic that does not exist reads as empty."""

from __future__ import annotations

import time

import pytest
from aiokafka import AIOKafkaProducer

from tests.kafka_helpers import create_topics
from wxcc_stream.base.settings import Settings
from wxcc_stream.reconcile.kafka import read_records

pytestmark = pytest.mark.broker


async def _produce(bootstrap: str, topic: str, values: list[bytes], ts_ms: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for i, value in enumerate(values):
            await producer.send_and_wait(topic, value=value, key=b"k%d" % i, timestamp_ms=ts_ms)
    finally:
        await producer.stop()


async def test_reads_every_partition_to_the_end_it_had_and_from_a_time(settings: Settings) -> None:
    bootstrap, topic = settings.kafka.bootstrap, settings.topic.raw
    await create_topics(bootstrap, [topic], partitions=3)
    now = int(time.time() * 1000)
    old = [b"old-%d" % i for i in range(30)]
    new = [b"new-%d" % i for i in range(30)]
    await _produce(bootstrap, topic, old, now - 7_200_000)
    await _produce(bootstrap, topic, new, now)

    everything = [r.value async for r in read_records(bootstrap, topic, None)]
    assert sorted(everything) == sorted(old + new)
    recent = [r.value async for r in read_records(bootstrap, topic, now - 60_000)]
    assert sorted(recent) == sorted(new)
    assert [r async for r in read_records(bootstrap, topic, now + 60_000)] == []

    # what is written while a reading runs is past the end it began with
    seen = []
    async for record in read_records(bootstrap, topic, now - 60_000):
        if not seen:
            await _produce(bootstrap, topic, [b"later"], now)
        seen.append(record.value)
    assert sorted(seen) == sorted(new)


async def test_a_missing_topic_reads_as_empty(settings: Settings) -> None:
    missing = f"{settings.topic.prefix}.never-made"
    assert [r async for r in read_records(settings.kafka.bootstrap, missing, None)] == []
