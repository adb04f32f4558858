"""An entity whose table value outgrows one Kafka record: the worker stores its head in
pieces, keeps running, and a worker restoring the table from the changelog reads it back.

The worker used to crash here (MessageSizeTooLargeError on the changelog): a head holds
every event an entity buffered inside the grace, and Kafka refuses a record over 1 MiB.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.harness import (
    ProjectionReader,
    WorkerProcess,
    describe_difference,
    produce_raw,
    read_topic,
)
from wxcc_stream.base.settings import Settings
from wxcc_stream.processors.core.log import new_log, projection
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.step import accept_many, drain
from wxcc_stream.processors.shell.app import app_id
from wxcc_stream.processors.storage.log_value import PIECE_BYTES
from wxcc_stream.schemas.cloudevent import parse_event
from wxcc_stream.schemas.event import EntityKind

pytestmark = pytest.mark.broker

AGENT = "agent-with-a-burst"
BURST = 320
PAD = "x" * 5_000  # 320 events of ~5 KB buffered at once: a head of ~1.6 MB
GRACE_MS = 60_000  # the burst stays buffered until the closing event's watermark passes it
STATES = ("available", "idle", "ringing", "connected", "wrapup")


def _event(n: int, created: int, event_type: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "type": event_type,
        "source": "/com/cisco/wxcc/test",
        "id": f"burst-{n:04d}",
        "orgid": "org-1",
        "datacontenttype": "application/json",
        "data": {"agentId": AGENT, "createdTime": created, **data},
    }


def _events(t0: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The login and burst; then an event two graces later whose watermark releases them,
    and one two graces after that, which releases it (and stays buffered itself)."""
    burst = [_event(0, t0, "agent:login", currentState="Available")]
    burst += [
        _event(n, t0 + n * 10, "agent:state_change", currentState=STATES[n % 5], note=PAD)
        for n in range(1, BURST)
    ]
    closing = [
        _event(BURST + n, t0 + 2 * n * GRACE_MS, "agent:state_change", currentState=state)
        for n, state in ((1, "idle"), (2, "available"))
    ]
    return burst, closing


def _records(events: list[dict[str, Any]]) -> list[tuple[bytes, bytes, Any]]:
    return [(AGENT.encode(), orjson.dumps(e), e) for e in events]


def _expected(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The agent's projection by the pure core, every event folded."""
    policy = Policy(grace_ms=GRACE_MS, flush_timeout_ms=GRACE_MS)
    parsed = [parse_event(e, received_at=0) for e in events]
    log, _ = accept_many(new_log(EntityKind.AGENT, AGENT), parsed, now_ms=0, policy=policy)
    log, _ = drain(log, policy=policy)
    return projection(log)


async def _head_pieces(settings: Settings) -> int:
    """How many pieces the agent's latest head in the changelog names (0: one value)."""
    topic = f"{app_id(settings)}-agent-entities-changelog"
    head = None
    for record in await read_topic(settings.kafka.bootstrap, topic, idle_s=1.0):
        if record.key == AGENT.encode():
            head = record.value
    assert head is not None, f"no head of {AGENT} in {topic}"
    doc = orjson.loads(head)
    return int(doc["pieces"][1]) if doc["format"] == 4 else 0


async def test_an_entity_over_one_record_is_stored_in_pieces_and_restored(
    settings: Settings, tmp_path: Path
) -> None:
    t0 = int(time.time() * 1000)
    burst, closing = _events(t0)
    assert sum(len(orjson.dumps(e)) for e in burst) > 2 * PIECE_BYTES
    # memory://: the restarted worker rebuilds its table from the changelog alone
    overrides = {"grace_ms": GRACE_MS, "flush_timeout_ms": GRACE_MS, "store": "memory://"}
    worker = WorkerProcess(settings, tmp_path / "worker", overrides=overrides).start()
    try:
        await worker.wait_ready()
        await produce_raw(settings.kafka.bootstrap, settings.topic.raw, _records(burst))
        deadline = time.monotonic() + 60
        while worker.metric("wxcc_worker_events_in_total", stream="agent") < BURST:
            assert time.monotonic() < deadline, worker.log_tail()
            worker.assert_running()
            await asyncio.sleep(0.5)
        # the whole burst is buffered (inside the grace): the head is over a record's size
        pieces = await _head_pieces(settings)
        assert pieces >= 2, pieces
        worker.assert_running()

        worker.kill()
        worker.start()
        await worker.wait_ready()
        await produce_raw(settings.kafka.bootstrap, settings.topic.raw, _records(closing))
        want = _expected([*burst, closing[0]])
        assert want["revision"] == BURST + 1  # the last closing event is still buffered
        async with ProjectionReader(settings.kafka.bootstrap, [settings.topic.agent_state]) as r:
            done = await r.wait_for({settings.topic.agent_state: {AGENT: want}}, timeout_s=60)
            got = r.docs[settings.topic.agent_state]
            assert done, describe_difference(got, {AGENT: want}) + worker.log_tail(20)
        # released and folded, the history went to chunks: the head is one value again
        assert await _head_pieces(settings) == 0
        worker.assert_running()
    finally:
        worker.stop()
