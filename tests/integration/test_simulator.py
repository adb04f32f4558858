"""The simulator sending a damaged scenario over loopback HTTP to a real ingress that
stores into the session's Kafka broker; what it sent is read back from the topics."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator

import orjson
import pytest

from tests.integration.test_ingress_support import (
    Running,
    ingress_settings,
    start_ingress,
    topic_size,
)
from tests.kafka_helpers import read_all
from wxcc_stream.base.settings import Settings
from wxcc_stream.devtools.scenario import DamageConfig, ScenarioConfig, damage, generate
from wxcc_stream.devtools.simulator import Progress, SendConfig, SigningKeys, send_events

pytestmark = pytest.mark.broker

SUB = "sim-sub"
SECRET = "sim-secret-0123456789abcdef0123456789"
SECRETS = f"{SUB}={SECRET}|older-secret"


@pytest.fixture
async def ingress(settings: Settings) -> AsyncIterator[tuple[Running, Settings]]:
    """An ingress storing into this test's topics on the session broker."""
    config = ingress_settings(settings, secrets=SECRETS)
    running = await start_ingress(config)
    yield running, config
    await running.stop()


async def stored_values(settings: Settings, topic: str, expected: int) -> list[bytes]:
    """The values on one of the test's topics, which must hold exactly `expected` records."""
    bootstrap = settings.kafka.bootstrap
    records = await read_all(bootstrap, topic, expected=expected) if expected else []
    assert await topic_size(bootstrap, topic) == expected, topic
    return [r.value for r in records]


async def test_a_damaged_scenario_is_sent_signed_and_paced(
    ingress: tuple[Running, Settings],
) -> None:
    running, config = ingress
    scenario = generate(
        ScenarioConfig(seed=7, agents=3, duration_ms=20 * 60_000, subscription_id=SUB)
    )
    delivery = damage(
        scenario.events,
        DamageConfig(seed=7, shuffle_window_ms=5000, duplicate_fraction=0.1, drop_fraction=0.05),
    )
    events = [e for _, e in delivery.deliveries]
    stream = io.StringIO()
    rate = 400.0
    summary = await send_events(
        events,
        SendConfig(target=running.url, rate=rate, concurrency=8),
        SigningKeys(by_subscription={SUB: SECRET.encode()}),
        progress=Progress(len(events), stream=stream, interval_s=0.05),
    )
    assert (summary.sent, summary.accepted, summary.errors) == (len(events), len(events), 0)
    assert summary.by_status == {202: len(events)}
    assert summary.elapsed_s >= (len(events) - 1) / rate * 0.95  # paced, not a burst
    values = await stored_values(config, config.topic.raw, len(events))
    stored = Counter(orjson.loads(v)["id"] for v in values)
    assert stored == Counter(e["id"] for e in events)  # duplicates included, drops absent
    assert not {e["id"] for e in delivery.dropped} & set(stored)
    assert f"{len(events)}/{len(events)}" in stream.getvalue()
    assert "sent: " in "\n".join(summary.lines())


async def test_wrong_secret_is_reported_as_rejections(
    ingress: tuple[Running, Settings],
) -> None:
    running, config = ingress
    events = generate(ScenarioConfig(seed=1, agents=2, duration_ms=10 * 60_000)).events[:20]
    assert len(events) > 5
    summary = await send_events(
        events,
        SendConfig(target=running.url),
        SigningKeys(fallback=b"wrong"),
    )
    assert summary.accepted == 0
    assert summary.by_status == {403: len(events)}
    assert sorted(summary.rejected_ids) == sorted(e["id"] for e in events)
    assert f"HTTP 403: {len(events)}" in summary.lines()[-1]
    assert not await stored_values(config, config.topic.raw, 0)
    dead = await stored_values(config, config.topic.deadletter, len(events))
    assert sorted(orjson.loads(v)["id"] for v in dead) == sorted(e["id"] for e in events)


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wxcc_stream.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=os.getcwd(),
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_simulate_command_sends_to_the_ingress_and_summarises(
    ingress: tuple[Running, Settings],
) -> None:
    running, config = ingress
    code, out, err = await run_cli(
        "simulate", "--target", running.url, "--agents", "2", "--duration", "10m",
        "--duplicates", "10%", "--shuffle-window", "3s", "--rate", "0",
        env={"WXCC_INGRESS_SECRETS": config.ingress.secrets},
    )  # fmt: skip
    assert code == 0, err
    sent = int(out.split("delivery: ")[1].split()[0])
    assert f"accepted (2xx): {sent}" in out
    assert "rejected: 0" in out
    assert f"{sent}/{sent}" in err  # the progress bar
    assert len(await stored_values(config, config.topic.raw, sent)) == sent


async def test_simulate_without_target_describes_and_refuses_remote_targets() -> None:
    code, out, _ = await run_cli("simulate", "--agents", "2", "--duration", "10m")
    assert code == 0
    assert "events: " in out
    assert "delivery: " in out
    code, _, err = await run_cli("simulate", "--target", "http://192.0.2.1/hook")
    assert code == 2
    assert "--allow-remote" in err
