"""The sink's whole path: task documents already on a real broker's projection topic ->
rows in a local PostgreSQL (the sink's consumer loop in this process: fetch, stage,
COPY + merge, commit, offset commit), against a bare aiokafka consumer reading the same
records without a database in the same run (the Kafka leg alone)."""

from __future__ import annotations

import asyncio
import time

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.api.run import _task
from bench.processor.run import broker
from wxcc_stream.base.settings import Settings, load_settings, with_overrides
from wxcc_stream.devtools.postgres import LocalPostgres
from wxcc_stream.sink.consumer import ProjectionSink
from wxcc_stream.sink.metrics import SinkMetrics
from wxcc_stream.sink.store import Store


def _settings(bootstrap: str, dsn: str) -> Settings:
    base = load_settings({})
    return with_overrides(
        base,
        kafka=with_overrides(base.kafka, bootstrap=bootstrap),
        sink=with_overrides(base.sink, dsn=dsn, group_id="bench-sink"),
    )


async def _fill(settings: Settings, count: int) -> None:
    """Both projection topics (4 partitions), `count` task documents on the task topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        topics = (settings.topic.agent_state, settings.topic.task_lifecycle)
        await admin.create_topics([NewTopic(t, 4, 1) for t in topics])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap, acks="all", linger_ms=20,
        compression_type="lz4", max_batch_size=512 * 1024,
    )  # fmt: skip
    await producer.start()
    try:
        pending = []
        for i in range(count):
            doc = _task(i)
            value, key = orjson.dumps(doc), doc["taskId"].encode()
            pending.append(await producer.send(settings.topic.task_lifecycle, value, key=key))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def _bare(settings: Settings, count: int) -> float:
    consumer = AIOKafkaConsumer(
        settings.topic.task_lifecycle, bootstrap_servers=settings.kafka.bootstrap,
        group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
        isolation_level="read_committed", max_partition_fetch_bytes=4 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    try:
        started, seen = time.perf_counter(), 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            seen += sum(len(records) for records in batch.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def _warm_group_coordinator(settings: Settings) -> None:
    """A fresh broker creates __consumer_offsets on the first group's request (seconds);
    a long-running cluster has it: do that before the clock starts."""
    consumer = AIOKafkaConsumer(
        settings.topic.agent_state, bootstrap_servers=settings.kafka.bootstrap,
        group_id="bench-sink-warm-up", enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=1000)
    finally:
        await consumer.stop()


async def _sink(settings: Settings, count: int) -> tuple[float, float]:
    """Seconds from start to the last row, and documents/s from the first batch written
    (the group join and first fetch excluded) to the last."""
    metrics = SinkMetrics()
    sink = ProjectionSink(settings, Store(settings.sink.dsn), metrics)
    stop = asyncio.Event()
    await Store(settings.sink.dsn).open()  # migrate before the clock starts
    labels = {"projection": "task_lifecycle"}

    def written() -> float:
        return metrics.registry.get_sample_value("wxcc_sink_records_total", labels) or 0.0

    started = time.perf_counter()
    first: tuple[float, float] | None = None
    running = asyncio.create_task(sink.run(stop))
    while (done := written()) < count:
        if running.done():
            running.result()
        if first is None and done:
            first = (time.perf_counter(), done)
        await asyncio.sleep(0.01)
    ended = time.perf_counter()
    stop.set()
    await running
    assert first is not None
    in_db = metrics.registry.get_sample_value("wxcc_sink_batch_seconds_sum") or 0.0
    print(f"  (sink: {in_db:.2f} s of {ended - started:.2f} s in database transactions)")
    return ended - started, (count - first[1]) / max(ended - first[0], 1e-9)


async def kafka_leg(count: int, bootstrap: str | None) -> None:
    """Print documents/s of the sink's whole path and of the bare consumer."""
    with broker(bootstrap) as address, LocalPostgres(durable=True) as server:
        settings = _settings(address, server.dsn())
        await _fill(settings, count)
        bare = await _bare(settings, count)
        await _warm_group_coordinator(settings)
        total, steady = await _sink(settings, count)
        print(f"bench.sink --part kafka: {count:,} task documents on a 4-partition topic")
        print(f"  bare aiokafka consumer (baseline)   {count / bare:>9,.0f} docs/s")
        print(
            f"  sink, Kafka -> rows, from its start {count / total:>9,.0f} docs/s "
            "(group join and first fetch included)"
        )
        print(f"  sink, Kafka -> rows, steady         {steady:>9,.0f} docs/s "
              f"({steady / (count / bare):.2f} of the bare consumer; target >= 20,000: "
              f"{'met' if steady >= 20_000 else 'NOT met'})")  # fmt: skip
