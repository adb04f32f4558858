"""The whole path: signed webhooks -> `wxcc-stream ingress` -> Kafka -> worker -> projections."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ingress.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.e2e.harness import ROOT, ProjectionReader, WorkerProcess, describe_difference
from wxcc_stream.broker.process import free_port
from wxcc_stream.scenario import (
    DEFAULT_SUBSCRIPTION_ID,
    HOUR_MS,
    DamageConfig,
    ScenarioConfig,
    damage,
    generate,
)
from wxcc_stream.settings import Settings

pytestmark = pytest.mark.broker

SECRET = "e2e-secret-0123456789abcdef0123456789"
# the generated day is in 2024: accept its v2 timestamps whatever today's date
TOLERANCE_MS = 20 * 365 * 24 * HOUR_MS


def _headers(body: bytes, event: dict[str, Any]) -> dict[str, str]:
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, SECRET)}
    if event.get("comciscotimestamp") is not None:
        headers[TIMESTAMP_HEADER] = str(event["comciscotimestamp"])
    return headers


async def test_webhooks_through_ingress_and_worker_give_ground_truth(
    settings: Settings, tmp_path: Path
) -> None:
    scenario = generate(
        ScenarioConfig(seed=55, agents=5, teams=1, queues=2, duration_ms=4 * HOUR_MS, tasks=60)
    )
    delivery = damage(
        scenario.events,
        DamageConfig(seed=56, shuffle_window_ms=5000, duplicate_fraction=0.1, late_fraction=0.03),
    )
    worker = WorkerProcess(
        settings, tmp_path / "w", overrides={"flush_timeout_ms": 1000, "tick_interval_ms": 250}
    ).start()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WXCC_")},
        "PYTHONPATH": str(ROOT),
        "WXCC_KAFKA_BOOTSTRAP": settings.kafka.bootstrap,
        "WXCC_TOPIC_PREFIX": settings.topic.prefix,
        "WXCC_INGRESS_PORT": str(port),
        "WXCC_INGRESS_SECRETS": f"{DEFAULT_SUBSCRIPTION_ID}={SECRET}",
        "WXCC_INGRESS_TIMESTAMP_TOLERANCE_MS": str(TOLERANCE_MS),
        "WXCC_INGRESS_COMPRESSION": "none",  # not what this test is about
    }
    log = (tmp_path / "ingress.log").open("wb")
    ingress = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wxcc_stream.cli", "ingress",
        cwd=ROOT, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        await worker.wait_ready()  # it declares the raw topic with the configured partitions
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                try:
                    async with http.get(base + "/readyz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("ingress did not become ready")
            statuses: list[int] = []
            queue = [event for _, event in delivery.deliveries]
            # a few concurrent senders, each in arrival order, like WxCC's parallel deliveries
            lanes = [queue[i::8] for i in range(8)]

            async def send(lane: list[dict[str, Any]]) -> None:
                for event in lane:
                    body = orjson.dumps(event)
                    async with http.post(
                        base + "/webhooks/wxcc", data=body, headers=_headers(body, event)
                    ) as r:
                        statuses.append(r.status)

            await asyncio.gather(*(send(lane) for lane in lanes))
        assert set(statuses) == {202}, sorted(set(statuses))

        truth = {
            settings.topic.agent_state: scenario.agent_truth,
            settings.topic.task_lifecycle: scenario.task_truth,
        }
        async with ProjectionReader(settings.kafka.bootstrap, list(truth)) as reader:
            done = await reader.wait_for(truth, timeout_s=90)
            report = "\n".join(
                f"{topic}: {describe_difference(reader.docs[topic], want)}"
                for topic, want in truth.items()
            )
        assert done, f"projections differ from the ground truth:\n{report}\n{worker.log_tail(20)}"
    finally:
        ingress.send_signal(signal.SIGTERM)
        await asyncio.wait_for(ingress.wait(), 30)
        log.close()
        worker.stop()
