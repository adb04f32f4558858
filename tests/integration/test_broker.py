"""The broker the tests use is a real Kafka: idempotent, acks=all, real offsets."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from tests.kafka_helpers import create_topics, read_all

pytestmark = pytest.mark.broker


async def test_idempotent_produce_and_consume_back(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}.roundtrip"
    await create_topics(kafka_bootstrap, [topic], partitions=1)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        metas = [
            await producer.send_and_wait(topic, key=b"agent-%d" % i, value=b"value-%d" % i)
            for i in range(20)
        ]
    finally:
        await producer.stop()
    assert [m.offset for m in metas] == list(range(20))
    records = await read_all(kafka_bootstrap, topic, expected=20)
    assert [(r.offset, r.key, r.value) for r in records] == [
        (i, b"agent-%d" % i, b"value-%d" % i) for i in range(20)
    ]


async def test_broker_kill_and_restart_keeps_acknowledged_records(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker = broker_factory()
    topic = "durable"
    await create_topics(broker.bootstrap, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=b"kept")
    finally:
        await producer.stop()
    broker.stop()
    broker.start()
    records = await read_all(broker.bootstrap, topic, expected=1)
    assert [r.value for r in records] == [b"kept"]
