"""Small helpers for tests that talk to the real broker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.structs import ConsumerRecord  # type: ignore[import-untyped]


async def create_topics(
    bootstrap: str, names: Iterable[str], *, partitions: int = 1, compacted: bool = False
) -> None:
    """Create topics (idempotently) and wait until their metadata is known."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        config = {"cleanup.policy": "compact"} if compacted else {}
        existing = set(await admin.list_topics())
        new = [
            NewTopic(name, num_partitions=partitions, replication_factor=1, topic_configs=config)
            for name in names
            if name not in existing
        ]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


async def read_all(
    bootstrap: str, topic: str, *, expected: int | None = None, timeout_s: float = 30.0
) -> list[ConsumerRecord]:
    """Every record of a topic from the beginning (until `expected` or an idle second)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        idle_since = loop.time()
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=250)
            got = [r for part in batch.values() for r in part]
            records.extend(got)
            if got:
                idle_since = loop.time()
            if expected is not None and len(records) >= expected:
                break
            if expected is None and records and loop.time() - idle_since > 1.0:
                break
    finally:
        await consumer.stop()
    return records
