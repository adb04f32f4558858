"""The whole path: signed webhooks -> `wxcc-stream ingress` -> Kafka -> worker -> projections.

The simulator's sender posts a generated, damaged day (shuffled, duplicated, some events
past the grace) to a real ingress subprocess over loopback, signed like WxCC and
re-stamped like a live delivery; the ingress publishes with its default settings (lz4,
idempotent, acks=all) to the session broker; a real worker subprocess turns the raw topic
into projections, which a plain consumer reads back (highest revision per key) and which
must equal the scenario generator's ground truth.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.harness import ROOT, ProjectionReader, WorkerProcess, describe_difference
from tests.integration.test_ingress_support import topic_size
from wxcc_stream.base.settings import Settings
from wxcc_stream.devtools.broker.process import free_port
from wxcc_stream.devtools.scenario import (
    DEFAULT_SUBSCRIPTION_ID,
    HOUR_MS,
    DamageConfig,
    Scenario,
    ScenarioConfig,
    damage,
    generate,
)
from wxcc_stream.devtools.simulator import SendConfig, SigningKeys, check_target, send_events

pytestmark = pytest.mark.broker

SECRET = "e2e-secret-0123456789abcdef0123456789"
FAST = {"flush_timeout_ms": 1000, "tick_interval_ms": 250}
# 10% duplicates, a 5 s shuffle window (wider than the 3 s grace), and 3% of the events
# ten minutes late: far past the grace, well inside the horizon, so they correct the state.
DAMAGE = DamageConfig(
    seed=56, shuffle_window_ms=5_000, duplicate_fraction=0.10, late_fraction=0.03,
    late_delay_ms=600_000,
)  # fmt: skip


def _text(path: Path) -> str:
    return path.read_text(errors="replace")


@asynccontextmanager
async def _ingress(settings: Settings, log_path: Path) -> AsyncIterator[str]:
    """A `wxcc-stream ingress` child on a loopback port, with its default publisher
    settings (lz4 compression); yields its webhook URL once /readyz answers 200."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WXCC_")},
        "PYTHONPATH": str(ROOT),
        "WXCC_KAFKA_BOOTSTRAP": settings.kafka.bootstrap,
        "WXCC_TOPIC_PREFIX": settings.topic.prefix,
        "WXCC_TOPIC_REPLICATION_FACTOR": str(settings.topic.replication_factor),
        "WXCC_TOPIC_MIN_INSYNC_REPLICAS": str(settings.topic.min_insync_replicas),
        "WXCC_INGRESS_HOST": "127.0.0.1",
        "WXCC_INGRESS_PORT": str(port),
        "WXCC_INGRESS_SECRETS": f"{DEFAULT_SUBSCRIPTION_ID}={SECRET}",
    }
    log = log_path.open("wb")
    ingress = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wxcc_stream.cli", "ingress",
        cwd=ROOT, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                assert ingress.returncode is None, _text(log_path)
                try:
                    async with http.get(base + "/readyz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"ingress not ready:\n{_text(log_path)}")
        yield check_target(base + "/webhooks/wxcc")  # loopback only
        assert ingress.returncode is None, _text(log_path)
    finally:
        if ingress.returncode is None:
            ingress.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(ingress.wait(), 30)
        except TimeoutError:
            ingress.kill()
            await ingress.wait()
        log.close()


async def _through_ingress_and_worker(
    settings: Settings, tmp_path: Path, scenario: Scenario, *, timeout_s: float
) -> None:
    delivery = damage(scenario.events, DAMAGE)
    assert delivery.late
    assert delivery.duplicated
    assert not delivery.dropped
    events = [event for _, event in delivery.deliveries]
    worker = WorkerProcess(settings, tmp_path / "w", overrides=FAST).start()
    try:
        await worker.wait_ready()  # it declares the raw topic with the configured partitions
        async with _ingress(settings, tmp_path / "ingress.log") as target:
            # as fast as it goes, at most 16 requests in flight, in delivery order
            summary = await send_events(
                events,
                SendConfig(target=target, rate=None, concurrency=16),
                SigningKeys(by_subscription={DEFAULT_SUBSCRIPTION_ID: SECRET.encode()}),
            )
        print(*summary.lines(), sep="\n")
        assert (summary.sent, summary.accepted, summary.errors) == (len(events), len(events), 0), (
            summary.lines()
        )
        assert summary.by_status == {202: len(events)}
        # every accepted request is on the raw topic exactly once, duplicates included
        assert await topic_size(settings.kafka.bootstrap, settings.topic.raw) == len(events)

        truth = {
            settings.topic.agent_state: scenario.agent_truth,
            settings.topic.task_lifecycle: scenario.task_truth,
        }
        started = time.monotonic()
        async with ProjectionReader(settings.kafka.bootstrap, list(truth)) as reader:
            done = await reader.wait_for(truth, timeout_s=timeout_s)
            report = "\n".join(
                f"{topic}: {describe_difference(reader.docs[topic], want)}"
                for topic, want in truth.items()
            )
        print(f"projections equal the truth {time.monotonic() - started:.1f} s after the send")
        worker.assert_running()
        assert done, f"projections differ from the ground truth:\n{report}\n{worker.log_tail(20)}"
        # the damage reached the worker through the ingress and was handled, not skipped
        assert worker.metric("wxcc_worker_duplicates_total", stream="agent") > 0
        assert worker.metric("wxcc_worker_late_events_total", stream="task") > 0
    finally:
        worker.stop()


async def test_webhooks_through_ingress_and_worker_give_ground_truth(
    settings: Settings, tmp_path: Path
) -> None:
    """A small day (5 agents, 60 tasks, 4 h): the quick version of the one below."""
    scenario = generate(
        ScenarioConfig(seed=55, agents=5, teams=1, queues=2, duration_ms=4 * HOUR_MS, tasks=60)
    )
    await _through_ingress_and_worker(settings, tmp_path, scenario, timeout_s=90)


@pytest.mark.timeout(900)
async def test_full_day_50_agents_2000_tasks_through_ingress(
    settings: Settings, tmp_path: Path
) -> None:
    """The issue's full scenario: a day of 50 agents and 2,000 tasks, as signed webhooks."""
    scenario = generate(
        ScenarioConfig(
            seed=5,
            agents=50,
            teams=10,
            queues=3,
            duration_ms=24 * HOUR_MS,
            tasks=2000,
            channel_state_fraction=0.1,  # part of the feed uses the v2 agent event
        )
    )
    await _through_ingress_and_worker(settings, tmp_path, scenario, timeout_s=600)
