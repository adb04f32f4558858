"""The ingress HTTP shell against a fault-injecting publisher port (`MemoryPublisher`).

These exercise the shell's own logic over real loopback HTTP: a slow or failing store is
answered 503 with Retry-After within the deadline, a refusal that cannot be dead-lettered
is 503, readiness follows the store, verification-off is warned about, and shutdown waits
for in-flight deliveries. No Kafka here: the real-broker equivalents (a broker outage mid
traffic, shutdown under load) are in tests/integration/test_ingress_outage.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from tests.integration.test_ingress_support import (
    Running,
    ingress_settings,
    new_event,
    signed_headers,
    start_ingress,
)
from wxcc_stream.base.settings import load_settings
from wxcc_stream.ingress.memory import MemoryPublisher

BASE = load_settings({})


@pytest.fixture
async def memory_ingress() -> AsyncIterator[tuple[Running, MemoryPublisher]]:
    publisher = MemoryPublisher()
    running = await start_ingress(
        ingress_settings(BASE, publish_deadline_ms=300, retry_after_s=7), publisher=publisher
    )
    yield running, publisher
    await running.stop()


async def post(url: str, doc: dict[str, Any] | bytes) -> tuple[int, dict[str, str], Any]:
    body = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=signed_headers(body)) as r,
    ):
        return r.status, dict(r.headers), orjson.loads(await r.read())


async def test_unavailable_or_slow_store_answers_503_with_retry_after_in_time(
    memory_ingress: tuple[Running, MemoryPublisher],
) -> None:
    running, publisher = memory_ingress
    publisher.failing = True
    status, headers, problem = await post(running.url, new_event())
    assert (status, headers["Retry-After"], problem["reason"]) == (503, "7", "unavailable")
    publisher.failing = False
    publisher.delay_s = 5.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, headers, problem = await post(running.url, new_event())
    assert status == 503
    assert loop.time() - started < 2.0  # the 300 ms deadline, not the 5 s publisher
    publisher.delay_s = 0
    status, _, _ = await post(running.url, new_event())
    assert status == 202


async def test_a_refusal_that_cannot_be_dead_lettered_is_503_not_silently_dropped(
    memory_ingress: tuple[Running, MemoryPublisher],
) -> None:
    running, publisher = memory_ingress
    publisher.failing = True
    status, headers, problem = await post(running.url, b"{not json")
    assert status == 503
    assert "Retry-After" in headers
    publisher.failing = False
    status, _, problem = await post(running.url, b"{not json")
    assert (status, problem["reason"]) == (400, "invalid_json")
    assert len(publisher.on(BASE.topic.deadletter)) == 1


async def test_readiness_follows_the_publisher(
    memory_ingress: tuple[Running, MemoryPublisher],
) -> None:
    running, publisher = memory_ingress
    async with aiohttp.ClientSession() as http:
        async with http.get(running.base + "/readyz") as r:
            assert r.status == 200
        publisher.failing = True
        async with http.get(running.base + "/readyz") as r:
            assert r.status == 503
            assert (await r.json())["kafka"] is False
        async with http.get(running.base + "/healthz") as r:
            assert r.status == 200


async def test_verification_off_is_explicit_and_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    publisher = MemoryPublisher()
    with caplog.at_level(logging.WARNING, logger="wxcc_stream.ingress"):
        running = await start_ingress(
            ingress_settings(BASE, verify_signatures=False), publisher=publisher
        )
    try:
        assert any("verification is OFF" in r.getMessage() for r in caplog.records)
        body = orjson.dumps(new_event())
        async with (
            aiohttp.ClientSession() as http,
            http.post(running.url, data=body, headers={"Content-Type": "application/json"}) as r,
        ):
            assert r.status == 202
    finally:
        await running.stop()


async def test_shutdown_waits_for_in_flight_deliveries_then_stops_the_publisher() -> None:
    publisher = MemoryPublisher()
    publisher.delay_s = 1.0  # time for all ten to arrive, on a busy machine too
    running = await start_ingress(
        ingress_settings(BASE, publish_deadline_ms=3000), publisher=publisher
    )
    docs = [new_event() for _ in range(10)]
    tasks = [asyncio.create_task(post(running.url, d)) for d in docs]
    # all ten reached the store (a request not received yet is refused by a shutdown)
    while publisher.in_flight < len(docs):
        assert not any(t.done() for t in tasks), [t.result() for t in tasks if t.done()]
        await asyncio.sleep(0.01)
    await running.stop()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    statuses = [r[0] for r in results if isinstance(r, tuple)]
    assert statuses == [202] * 10
    assert publisher.stopped
    stored = {orjson.loads(r.value)["id"] for r in publisher.on(BASE.topic.raw)}
    assert stored == {d["id"] for d in docs}
