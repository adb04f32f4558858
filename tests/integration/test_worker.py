"""The worker on the real broker: vendor examples in, projections and dead letters out."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import (
    ConfigResource,
    ConfigResourceType,
)

from tests.e2e.harness import ProjectionReader, WorkerProcess, entity_key, produce_raw, read_topic
from tests.kafka_helpers import create_topics
from wxcc_stream.base.partitioning import KeyPartitioner
from wxcc_stream.base.settings import Settings
from wxcc_stream.processors.core.log import new_log, projection
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.step import accept_many, drain
from wxcc_stream.schemas.cloudevent import entity_keys, parse_event
from wxcc_stream.schemas.event import EntityKind
from wxcc_stream.schemas.files import vendor_examples

pytestmark = pytest.mark.broker

# The vendor's examples are dated decades apart (12-digit createdTime typos next to a
# 13-digit one), so the horizon must reach across them for all of them to be folded.
HORIZON_MS = 2_000_000_000_000
RECEIVED_AT = 1_700_000_000_000  # the examples lacking a time fall back to this


def _examples() -> list[dict[str, Any]]:
    """Each vendor example as written, except a unique CloudEvent id per example.

    The vendor's page reuses one placeholder id for every example; real deliveries carry
    distinct ids, and equal (source, id) with a different payload is a conflict by contract.
    """
    out = []
    for n, (event_type, body) in enumerate(sorted(vendor_examples().items())):
        event = orjson.loads(body)
        event["id"] = f"vendor-example-{n:02d}-{event_type}"
        out.append(event)
    return out


def _expected(events: list[dict[str, Any]]) -> dict[EntityKind, dict[str, dict[str, Any]]]:
    """The projections the pure core gives for these events (all folded, none held)."""
    policy = Policy(grace_ms=3000, flush_timeout_ms=1000, horizon_ms=HORIZON_MS)
    per_entity: dict[tuple[EntityKind, str], list[Any]] = defaultdict(list)
    for raw in events:
        event = parse_event(raw, received_at=RECEIVED_AT)
        for kind, entity_id in entity_keys(event):
            per_entity[(kind, entity_id)].append(event)
    out: dict[EntityKind, dict[str, dict[str, Any]]] = {k: {} for k in EntityKind}
    for (kind, entity_id), entity_events in per_entity.items():
        log, _ = accept_many(new_log(kind, entity_id), entity_events, now_ms=0, policy=policy)
        log, _ = drain(log, policy=policy)
        out[kind][entity_id] = projection(log)
    return out


async def test_vendor_examples_flow_into_projections_and_bad_records_into_dead_letters(
    settings: Settings, tmp_path: Path
) -> None:
    t = settings.topic
    worker = WorkerProcess(
        settings,
        tmp_path / "worker",
        overrides={"horizon_ms": HORIZON_MS, "flush_timeout_ms": 1000, "tick_interval_ms": 200},
    ).start()
    try:
        await worker.wait_ready()
        examples = _examples()
        login = next(e for e in examples if e["type"] == "agent:login")
        conflicting = {**login, "data": {**login["data"], "idleCodeId": "changed"}}
        garbage = b'{"id": "truncated'
        no_agent = {**login, "id": "no-agent", "data": {"currentState": "idle"}}
        records = [(entity_key(e), orjson.dumps(e), e) for e in examples]
        records.append((entity_key(login), orjson.dumps(conflicting), conflicting))
        records.append((b"x", garbage, {}))
        records.append((b"y", orjson.dumps(no_agent), no_agent))
        await produce_raw(settings.kafka.bootstrap, t.raw, records, received_at=RECEIVED_AT)

        expected = _expected(examples)
        topics = {EntityKind.AGENT: t.agent_state, EntityKind.TASK: t.task_lifecycle}
        async with ProjectionReader(settings.kafka.bootstrap, list(topics.values())) as reader:
            want = {topics[k]: docs for k, docs in expected.items()}
            done = await reader.wait_for(want, timeout_s=60)
            assert done, {topic: reader.docs[topic] for topic in want}
        assert len(expected[EntityKind.AGENT]) == 2
        assert len(expected[EntityKind.TASK]) == 3

        # every example is in an ordered topic, the task leg in both
        ordered = [
            orjson.loads(r.value)
            for topic in (t.agent_events_ordered, t.task_events_ordered)
            for r in await read_topic(settings.kafka.bootstrap, topic)
        ]
        ids = [e["id"] for e in ordered]
        assert sorted(set(ids)) == sorted(e["id"] for e in examples)
        assert len(ids) == len(examples) + 1  # agent:state_change with a taskId feeds both

        letters = [
            orjson.loads(r.value) for r in await read_topic(settings.kafka.bootstrap, t.deadletter)
        ]
        reasons = sorted(letter["reason"] for letter in letters)
        assert reasons == ["conflict", "invalid_event", "invalid_json"], letters
        conflict = next(letter for letter in letters if letter["reason"] == "conflict")
        assert conflict["kept"]["data"]["idleCodeId"] == login["data"]["idleCodeId"]
        assert conflict["rejected"]["data"]["idleCodeId"] == "changed"
        invalid = next(letter for letter in letters if letter["reason"] == "invalid_event")
        assert invalid["field"] == "data.agentId"
        assert invalid["headers"]["ce_id"] == "no-agent"
        assert next(x for x in letters if x["reason"] == "invalid_json")["body"] == garbage.decode()

        assert worker.metric("wxcc_worker_conflicts_total", stream="agent") == 1
        # raw records already in their entity's partition are processed where they are
        # read: only the task leg's copy for its task may take the hop (other partition)
        routed = sum(
            worker.metric("wxcc_worker_raw_routed_total", stream=k.value) for k in EntityKind
        )
        assert routed == len(examples) + 2  # + the conflicting login, + the leg's task copy
        leg = next(
            e for e in examples if e["type"] == "agent:state_change" and e["data"].get("taskId")
        )
        partitions = KeyPartitioner()
        hop = partitions.partition_of(leg["data"]["taskId"].encode(), t.partitions) != (
            partitions.partition_of(leg["data"]["agentId"].encode(), t.partitions)
        )
        assert worker.metric("wxcc_worker_raw_hops_total", stream="task") == int(hop)
        assert worker.metric("wxcc_worker_raw_hops_total", stream="agent") == 0
        assert worker.metric("wxcc_worker_events_in_total", stream="task") >= 13
        status, _ = worker.get("/healthz")
        assert status == 200
        ready = worker.readiness()
        assert ready is not None
        assert ready["ready"]
        assert not ready["stalled"]
    finally:
        worker.stop()


async def test_projection_topics_are_compacted(settings: Settings, tmp_path: Path) -> None:
    # the raw topic exists already (as the ingress would have made it), with 2 partitions
    await create_topics(settings.kafka.bootstrap, [settings.topic.raw], partitions=2)
    worker = WorkerProcess(settings, tmp_path / "worker").start()
    try:
        await worker.wait_ready()
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
        await admin.start()
        try:
            t = settings.topic
            names = [t.agent_state, t.task_lifecycle, t.agent_events_ordered]
            resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
            described = await admin.describe_configs(resources)
            policy = {}
            for response in described:
                for resource in response.to_object()["resources"]:
                    configs = {
                        c["config_names"]: c["config_value"] for c in resource["config_entries"]
                    }
                    policy[resource["resource_name"]] = configs["cleanup.policy"]
            assert policy == {
                t.agent_state: "compact",
                t.task_lifecycle: "compact",
                t.agent_events_ordered: "delete",
            }
            topics = await admin.describe_topics([t.agent_state, t.raw])
            partitions = {d["topic"]: len(d["partitions"]) for d in topics}
            assert partitions == {t.agent_state: settings.topic.partitions, t.raw: 2}
        finally:
            await admin.close()
    finally:
        worker.stop()


async def test_a_worker_pinned_to_an_unknown_generation_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    worker = WorkerProcess(settings, tmp_path / "worker", overrides={"generation": 7}).start()
    assert worker.proc is not None
    try:
        code = await asyncio.to_thread(worker.proc.wait, 60)
    finally:
        worker.stop()
    assert code == 2, worker.log_tail()
    assert "WXCC_WORKER_GENERATION=7: no replay into generation 7" in worker.log_tail()
