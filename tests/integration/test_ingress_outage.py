"""Kafka going away mid-traffic, and the ingress shutting down under load: no event that
was answered 2xx may be missing from Kafka afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.test_ingress_support import (
    Outcome,
    Running,
    ids_of,
    ingress_settings,
    new_event,
    send_all,
    start_ingress,
)
from tests.kafka_helpers import read_all
from wxcc_stream.base.settings import Settings, with_overrides
from wxcc_stream.devtools.broker import LocalBroker
from wxcc_stream.ingress.app import STATE

pytestmark = pytest.mark.broker

# every Kafka client the publisher port has: each must keep "2xx only after the ack"
KAFKA_CLIENTS = pytest.mark.parametrize("client", ["aiokafka", "confluent"])


def on_broker(settings: Settings, bootstrap: str, prefix: str, **ingress: object) -> Settings:
    base = with_overrides(
        settings,
        kafka=with_overrides(settings.kafka, bootstrap=bootstrap),
        topic=with_overrides(settings.topic, prefix=prefix, partitions=2),
    )
    return ingress_settings(base, **ingress)


async def wait_until(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await predicate():  # type: ignore[misc]
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def ready(running: Running) -> bool:
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(running.base + "/readyz") as r,
        ):
            return r.status == 200
    except aiohttp.ClientError:
        return False


@KAFKA_CLIENTS
async def test_broker_killed_mid_traffic_503_without_spool_2xx_with_it_and_nothing_lost(
    broker_factory: Callable[[], LocalBroker],
    settings: Settings,
    topic_prefix: str,
    tmp_path: Path,
    client: str,
) -> None:
    broker = broker_factory()
    plain_settings = on_broker(
        settings, broker.bootstrap, topic_prefix + "p", publish_deadline_ms=800, publisher=client
    )
    spool_settings = on_broker(
        settings,
        broker.bootstrap,
        topic_prefix + "s",
        publish_deadline_ms=800,
        spool_dir=str(tmp_path / "spool"),
        publisher=client,
    )
    plain = await start_ingress(plain_settings)
    spooled = await start_ingress(spool_settings)
    plain_out, spool_out = Outcome(), Outcome()
    try:
        killed = asyncio.Event()

        def events(n: int | None) -> Iterator[dict[str, Any]]:
            """n events; None: events until the broker is killed, then 12 more."""
            if n is not None:
                yield from (new_event() for _ in range(n))
                return
            while not killed.is_set():
                yield new_event()
            yield from (new_event() for _ in range(12))

        async def traffic(n: int | None, phase: str) -> tuple[Outcome, Outcome]:
            p, s = Outcome(), Outcome()
            await asyncio.gather(
                send_all(plain.url, events(n), outcome=p, concurrency=6),
                send_all(spooled.url, events(n), outcome=s, concurrency=6),
            )
            plain_out.statuses.update(p.statuses)
            plain_out.retry_after |= p.retry_after
            spool_out.statuses.update(s.statuses)
            return p, s

        before_p, before_s = await traffic(60, "before")
        assert set(before_p.statuses.values()) == {202}
        assert set(before_s.statuses.values()) == {202}

        # kill the broker while deliveries are flowing
        flowing = asyncio.create_task(traffic(None, "during-kill"))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(broker.kill)
        # the fault lands mid-flight: the traffic only ends after it
        assert not flowing.done(), "the traffic ended before the broker was killed"
        killed.set()
        await flowing
        down_p, down_s = await traffic(30, "down")
        assert set(down_p.statuses.values()) == {503}, down_p.statuses
        assert down_p.retry_after == set(down_p.statuses)
        assert set(down_s.statuses.values()) == {202}, down_s.statuses
        assert spooled.app[STATE].spool.depth > 0  # type: ignore[union-attr]

        await asyncio.to_thread(broker.start)
        await wait_until(lambda: ready(plain), 60, "the plain ingress to be ready")
        after_p, after_s = await traffic(30, "after")
        assert 202 in after_p.statuses.values()
        assert set(after_s.statuses.values()) == {202}
        spool = spooled.app[STATE].spool
        assert spool is not None

        async def drained() -> bool:
            return spool.depth == 0 and not spool.spooling

        await wait_until(drained, 60, "the spool to drain")
    finally:
        await plain.stop()
        await spooled.stop()

    for out, cfg in ((plain_out, plain_settings), (spool_out, spool_settings)):
        acknowledged = out.with_status(lambda s: 200 <= s < 300)
        records = await read_all(broker.bootstrap, cfg.topic.raw, expected=len(acknowledged))
        stored = set(ids_of([r.value for r in records]))
        assert acknowledged <= stored, f"lost: {sorted(acknowledged - stored)[:5]}"
    # the spooled ingress acknowledged everything it was sent
    assert set(spool_out.statuses.values()) == {202}


@KAFKA_CLIENTS
async def test_graceful_shutdown_under_load_loses_no_acknowledged_event(
    settings: Settings, kafka_bootstrap: str, client: str
) -> None:
    running = await start_ingress(
        ingress_settings(settings, publish_deadline_ms=2000, publisher=client)
    )
    outcome = Outcome()
    events = (new_event() for _ in range(100_000))
    load_task = asyncio.create_task(
        send_all(running.url, events, outcome=outcome, concurrency=24, stop_on_error=True)
    )
    await asyncio.sleep(0.8)
    in_flight_at_stop = len(outcome.statuses)
    await running.stop()
    await load_task
    acknowledged = outcome.with_status(lambda s: 200 <= s < 300)
    refused = outcome.with_status(lambda s: s == 0)
    assert in_flight_at_stop > 0
    assert acknowledged
    assert refused, "the load should still have been running when the ingress stopped"
    assert set(outcome.statuses.values()) <= {0, 202}
    records = await read_all(kafka_bootstrap, settings.topic.raw, expected=len(acknowledged))
    assert acknowledged <= set(ids_of([r.value for r in records]))
