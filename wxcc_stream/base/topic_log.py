"""Reading and writing small compacted topics whole (the generations topic, a projection
partition read back at a restart): plain aiokafka, manual assignment, no group."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

__all__ = ["append", "delete_topics", "partitions_of", "read_partitions", "read_topic"]


async def read_partitions(
    bootstrap: str, topic: str, partitions: Sequence[int] | None = None, timeout_s: float = 60.0
) -> list[tuple[bytes | None, bytes | None]]:
    """Every (key, value) of the partitions (all when None) up to their current end, in
    offset order per partition."""
    if not await partitions_of(bootstrap, topic):
        return []
    # subscribed without a group: the client then has the topic's metadata (a consumer
    # given partitions by `assign` waits for it forever on a topic created meanwhile)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False,
        auto_offset_reset="earliest",
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    await consumer.start()
    try:
        while not consumer.assignment():
            if loop.time() > deadline:
                raise TimeoutError(f"{topic}: no partitions assigned in {timeout_s:.0f} s")
            await asyncio.sleep(0.05)
        tps = [
            tp for tp in consumer.assignment() if partitions is None or tp.partition in partitions
        ]
        ends = await consumer.end_offsets(tps)
        out: list[tuple[bytes | None, bytes | None]] = []
        # read until each partition's last record (by offset: `position` may wait on an
        # offset reset of a topic just created)
        waiting = {tp for tp in tps if ends[tp] > 0}
        while waiting:
            if loop.time() > deadline:
                raise TimeoutError(f"{topic}: not read to its end in {timeout_s:.0f} s")
            batch = await consumer.getmany(*waiting, timeout_ms=500)
            for tp, records in batch.items():
                out.extend((r.key, r.value) for r in records if r.offset < ends[tp])
                if records and records[-1].offset >= ends[tp] - 1:
                    waiting.discard(tp)
        return out
    finally:
        await consumer.stop()


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    """The partitions of a topic ([] when it does not exist)."""
    # the producer's `partitions_for` waits for the topic's metadata; a consumer that is
    # not subscribed has no public way to ask for it
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    try:
        await producer.start()
        if topic not in await _topics(bootstrap):
            return []
        return sorted(await producer.partitions_for(topic))
    finally:
        await producer.stop()


async def _topics(bootstrap: str) -> set[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    try:
        await consumer.start()
        return set(await consumer.topics())
    finally:
        await consumer.stop()


async def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every (key, value) of a topic (see `read_partitions`)."""
    return await read_partitions(bootstrap, topic)


async def append(bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes | None]]) -> None:
    """Write (key, value) records (a None value deletes the key), acknowledged by all
    in-sync replicas."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def delete_topics(bootstrap: str, names: Sequence[str]) -> list[str]:
    """Delete the topics of `names` that exist; the names deleted."""
    existing = await _topics(bootstrap)
    doomed = [n for n in names if n in existing]
    if not doomed:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(doomed)
    finally:
        await admin.close()
    return doomed
