"""The whole path a supervisor sees: a projection record produced to a real broker -> the
change reaching an SSE client of the real API (its KafkaFeed), against a bare aiokafka
consumer of the same topic in the same run (the Kafka leg alone, the floor any reader pays).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.api.run import TOKEN, _agent, report
from bench.processor.run import broker
from wxcc_stream.api.app import build_app
from wxcc_stream.base.settings import Settings, load_settings, with_overrides
from wxcc_stream.devtools.broker.process import free_port


class _Arrivals:
    """Receive times, and an event set once the expected number has arrived."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.expect = 0
        self.complete = asyncio.Event()

    def arrived(self) -> None:
        self.times.append(time.perf_counter())
        if self.expect and len(self.times) >= self.expect:
            self.complete.set()


def _settings(bootstrap: str, port: int) -> Settings:
    base = load_settings({})
    return with_overrides(
        base,
        kafka=with_overrides(base.kafka, bootstrap=bootstrap),
        api=with_overrides(base.api, port=port, tokens=f"{TOKEN}=*"),
    )


async def _create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, num_partitions=4, replication_factor=1)
                                   for n in names])  # fmt: skip
    finally:
        await admin.close()


async def _timed_sends(
    bootstrap: str, topic: str, changes: int, received: _Arrivals, round_no: int
) -> list[float]:
    """Produce `changes` agent documents one at a time (acks=all); send->receive seconds.

    Each round writes higher revisions than the last: the API's view ignores older ones.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    sent: list[float] = []
    try:
        start = len(received.times)
        received.expect = start + changes
        for i in range(changes):
            doc = _agent(i) | {"revision": 1000 * round_no + i}
            sent.append(time.perf_counter())
            await producer.send_and_wait(topic, orjson.dumps(doc), key=doc["agentId"].encode())
            await asyncio.sleep(0.01)
        await asyncio.wait_for(received.complete.wait(), 30)
    finally:
        await producer.stop()
    got = received.times[start : start + changes]
    return [r - s for s, r in zip(sent, got, strict=True)]


async def _through_api(bootstrap: str, settings: Settings, changes: int) -> list[float]:
    runner = web.AppRunner(build_app(settings), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.api.port).start()
    received = _Arrivals()
    url = f"http://127.0.0.1:{settings.api.port}/stream?kind=agent"

    async def listen() -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
            async for line in response.content:
                if line.startswith(b"data:") and b'"agentId"' in line:
                    received.arrived()

    try:
        await _until_ready(settings.api.port)
        client = asyncio.create_task(listen())
        await asyncio.sleep(0.5)
        return await _timed_sends(bootstrap, settings.topic.agent_state, changes, received, 3)
    finally:
        client.cancel()
        await runner.cleanup()


async def _until_ready(port: int) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                if response.status == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("the API did not become ready")


async def _bare_consumer(bootstrap: str, topic: str, changes: int) -> list[float]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest",
        isolation_level="read_committed", fetch_max_wait_ms=100,
    )  # fmt: skip
    await consumer.start()
    received = _Arrivals()

    async def read() -> None:
        async for _ in consumer:
            received.arrived()

    reader = asyncio.create_task(read())
    try:
        await asyncio.sleep(1.0)  # assigned and positioned at the end
        return await _timed_sends(bootstrap, topic, changes, received, 2)
    finally:
        reader.cancel()
        await consumer.stop()


async def kafka_latency(changes: int, bootstrap: str | None = None) -> None:
    """Produce -> visible on the API's stream, against produce -> a bare consumer."""
    with broker(bootstrap) as address:
        settings = _settings(address, free_port())
        topics = [settings.topic.agent_state, settings.topic.task_lifecycle]
        await _create_topics(address, topics)
        measure: list[tuple[str, Callable[[], Awaitable[list[float]]]]] = [
            ("bare aiokafka consumer (baseline)",
             lambda: _bare_consumer(address, settings.topic.agent_state, changes)),
            ("API stream (KafkaFeed -> view -> SSE)",
             lambda: _through_api(address, settings, changes)),
        ]  # fmt: skip
        results: dict[str, Any] = {}
        for name, run in measure:
            results[name] = await run()
            report(name, results[name], width=44)
        base, ours = (statistics.median(v) for v in results.values())
        print(f"ratio p50 API/baseline: {ours / base:.1f}x; API p50 {ours * 1000:.1f} ms "
              "(target: visible within 100 ms of reaching Kafka)")  # fmt: skip
