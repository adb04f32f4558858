"""The baseline both the worker's and the replay's benchmarks compare with: a plain aiokafka
consumer reading a whole topic, in a fresh group, from its first record on."""

from __future__ import annotations

import time
import uuid

from aiokafka import AIOKafkaConsumer


async def bare_consumer(bootstrap: str, topic: str, count: int) -> tuple[float, float]:
    """(events/s, CPU µs per event) of a plain aiokafka consumer reading the `count`
    records of `topic`, both from its first record on."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    await consumer.start()
    try:
        seen, first, cpu, before = 0, 0.0, 0.0, 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            n = sum(len(v) for v in batch.values())
            if n and not first:
                first, cpu, before = time.perf_counter(), time.process_time(), n
            seen += n
        wall, cpu = time.perf_counter() - first, time.process_time() - cpu
        # events/s over all `count` records (the issues' figures); the CPU of the records
        # decoded after the clock started only
        return count / wall, cpu / max(count - before, 1) * 1e6
    finally:
        await consumer.stop()
