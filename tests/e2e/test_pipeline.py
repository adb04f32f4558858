"""Whole pipeline on the real broker: a generated day, damaged, through the worker(s).

Raw topic fed like the ingress does (keyed by entity id, with its headers); projection
topics read back with a plain consumer keeping the highest revision per key; compared with
the scenario generator's ground truth, which is computed from its own model.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.harness import (
    ProjectionReader,
    WorkerProcess,
    describe_difference,
    produce_raw,
    raw_records,
    read_topic,
)
from tests.unit.contract_ranks import AGENT_RANK, OTHER_RANK, STATE_CHANGES, TASK_RANK
from wxcc_stream.base.settings import Settings, with_overrides
from wxcc_stream.devtools.scenario import (
    HOUR_MS,
    DamageConfig,
    Scenario,
    ScenarioConfig,
    damage,
    generate,
)
from wxcc_stream.schemas.event import EntityKind, Event

pytestmark = pytest.mark.broker

# 10% duplicates, a 5 s shuffle window (wider than the 3 s grace), and 3% of the events
# ten minutes late: far past the grace, well inside the horizon, so they correct the state.
DAMAGE = DamageConfig(
    seed=7, shuffle_window_ms=5_000, duplicate_fraction=0.10, late_fraction=0.03,
    late_delay_ms=600_000,
)  # fmt: skip
FAST = {"flush_timeout_ms": 1000, "tick_interval_ms": 250}


def _scenario(seed: int, agents: int, tasks: int, hours: int) -> Scenario:
    config = ScenarioConfig(
        seed=seed, agents=agents, teams=max(1, agents // 5), queues=3,
        duration_ms=hours * HOUR_MS, tasks=tasks,
    )  # fmt: skip
    return generate(config)


def _delivered(scenario: Scenario) -> list[tuple[bytes, bytes, Any]]:
    delivery = damage(scenario.events, DAMAGE)
    assert delivery.late
    assert delivery.duplicated
    assert not delivery.dropped
    return raw_records(event for _, event in delivery.deliveries)


def _truth(settings: Settings, scenario: Scenario) -> dict[str, Any]:
    return {
        settings.topic.agent_state: scenario.agent_truth,
        settings.topic.task_lifecycle: scenario.task_truth,
    }


async def _assert_projections_equal_truth(
    settings: Settings, scenario: Scenario, *, timeout_s: float, workers: list[WorkerProcess]
) -> ProjectionReader:
    truth = _truth(settings, scenario)
    async with ProjectionReader(settings.kafka.bootstrap, list(truth)) as reader:
        done = await reader.wait_for(truth, timeout_s=timeout_s)
        for worker in workers:
            worker.assert_running()
        if not done:
            report = "\n".join(
                f"{topic}: {describe_difference(reader.docs[topic], want)}"
                for topic, want in truth.items()
            )
            logs = "\n".join(w.log_tail(25) for w in workers)
            raise AssertionError(f"projections differ from the ground truth:\n{report}\n{logs}")
    return reader


async def test_damaged_day_gives_ground_truth_projections(
    settings: Settings, tmp_path: Path
) -> None:
    """Bounded version of the issue's day: 10 agents, 200 tasks, shuffled, 10% duplicates."""
    scenario = _scenario(seed=21, agents=10, tasks=200, hours=8)
    records = _delivered(scenario)
    worker = WorkerProcess(settings, tmp_path / "w", overrides=FAST).start()
    try:
        await worker.wait_ready()
        await produce_raw(settings.kafka.bootstrap, settings.topic.raw, records)
        await _assert_projections_equal_truth(settings, scenario, timeout_s=120, workers=[worker])
        await _assert_ordered_topics_clean(settings, records)
        assert worker.metric("wxcc_worker_duplicates_total", stream="agent") > 0
        assert worker.metric("wxcc_worker_late_events_total", stream="task") > 0
    finally:
        worker.stop()


async def test_twins_from_a_second_source_conflicts_and_shared_instants_give_ground_truth(
    settings: Settings, tmp_path: Path
) -> None:
    """What reconciliation will add: the same events again under new ids from another
    source, copies with the same id and another payload, and two agents' legs of one task
    in one state at one instant; the projections still equal the ground truth."""
    scenario = generate(ScenarioConfig(
        seed=33, agents=6, teams=1, queues=2, duration_ms=4 * HOUR_MS, tasks=120,
        consult_probability=0.4, conference_probability=0.5, shared_conference_probability=1.0,
    ))  # fmt: skip
    delivery = damage(scenario.events, DamageConfig(
        seed=33, shuffle_window_ms=5_000, duplicate_fraction=0.05, twin_fraction=0.1,
        conflict_fraction=0.03,
    ))  # fmt: skip
    assert delivery.twinned
    assert delivery.conflicted
    records = raw_records(event for _, event in delivery.deliveries)
    worker = WorkerProcess(settings, tmp_path / "w", overrides=FAST).start()
    try:
        await worker.wait_ready()
        await produce_raw(settings.kafka.bootstrap, settings.topic.raw, records)
        await _assert_projections_equal_truth(settings, scenario, timeout_s=120, workers=[worker])
        conflicts = sum(
            worker.metric("wxcc_worker_conflicts_total", stream=s) for s in ("agent", "task")
        )
        assert conflicts >= len(delivery.conflicted)
    finally:
        worker.stop()


@pytest.mark.timeout(900)
async def test_full_day_50_agents_2000_tasks(settings: Settings, tmp_path: Path) -> None:
    """The issue's full scenario: a day of 50 agents and 2,000 tasks."""
    scenario = _scenario(seed=5, agents=50, tasks=2000, hours=24)
    records = _delivered(scenario)
    worker = WorkerProcess(settings, tmp_path / "w", overrides=FAST).start()
    try:
        await worker.wait_ready()
        await produce_raw(settings.kafka.bootstrap, settings.topic.raw, records)
        await _assert_projections_equal_truth(settings, scenario, timeout_s=600, workers=[worker])
        await _assert_ordered_topics_clean(settings, records)
    finally:
        worker.stop()


async def _assert_ordered_topics_clean(
    settings: Settings, records: list[tuple[bytes, bytes, Any]]
) -> None:
    """Each distinct event exactly once per stream it feeds; in contract order unless late."""
    distinct = {(e["source"], e["id"]): e for _, _, e in records}
    want = {
        EntityKind.AGENT: Counter(e["type"] for e in distinct.values() if _feeds_agent(e)),
        EntityKind.TASK: Counter(e["type"] for e in distinct.values() if _feeds_task(e)),
    }
    ranks = {EntityKind.AGENT: AGENT_RANK, EntityKind.TASK: TASK_RANK}
    for kind, topic in (
        (EntityKind.AGENT, settings.topic.agent_events_ordered),
        (EntityKind.TASK, settings.topic.task_events_ordered),
    ):
        got = [
            orjson.loads(r.value) | {"_key": r.key}
            for r in await read_topic(settings.kafka.bootstrap, topic)
        ]
        ids = Counter((e["source"], e["id"]) for e in got)
        assert max(ids.values()) == 1, [k for k, n in ids.items() if n > 1][:5]
        # every distinct event of the stream once: none lost, none counted twice
        assert Counter(e["type"] for e in got) == want[kind]
        per_key: dict[bytes, list[Event]] = {}
        for e in got:
            if not e["late"]:
                per_key.setdefault(e["_key"], []).append(Event.from_dict(e))
        # in the page's order (docs/projections.md), not the code's own sort key
        for events in per_key.values():
            keys = [
                (ev.created_time, ranks[kind].get(ev.type, OTHER_RANK), ev.ce_id) for ev in events
            ]
            assert keys == sorted(keys)


def _feeds_agent(event: dict[str, Any]) -> bool:
    return str(event["type"]).startswith("agent:")


def _feeds_task(event: dict[str, Any]) -> bool:
    """task:* and capture:* events, and an agent's state change on a task (its leg)."""
    if event["type"] in STATE_CHANGES:
        return bool(event["data"].get("taskId"))
    return str(event["type"]).split(":", 1)[0] in ("task", "capture")


async def test_sigkill_mid_stream_then_restart_and_replay(
    settings: Settings, tmp_path: Path
) -> None:
    """Killed with SIGKILL mid-stream and restarted: same final projections as the truth;
    then a replay of the same raw topic by a fresh worker gives byte-identical documents."""
    scenario = _scenario(seed=33, agents=8, tasks=150, hours=6)
    records = _delivered(scenario)
    worker = WorkerProcess(settings, tmp_path / "w", overrides=FAST).start()
    try:
        await worker.wait_ready()
        half = len(records) // 2
        feeding = asyncio.create_task(
            # paced to last about 6 s, so the kill lands while it is still going on
            produce_raw(
                settings.kafka.bootstrap, settings.topic.raw, records[:half], rate_per_s=half / 6
            )
        )
        # kill once projections are flowing, while the first half is still being fed
        async with ProjectionReader(
            settings.kafka.bootstrap, [settings.topic.agent_state, settings.topic.task_lifecycle]
        ) as reader:
            while reader.records < 20 and not feeding.done():
                await reader.poll()
        assert not feeding.done(), "the feed ended before the kill: slow it down"
        worker.kill()
        await feeding
        await produce_raw(settings.kafka.bootstrap, settings.topic.raw, records[half:])
        worker.start()
        await worker.wait_ready()
        live = await _assert_projections_equal_truth(
            settings, scenario, timeout_s=120, workers=[worker]
        )
    finally:
        worker.stop()

    # replay: the same raw records, in the same partitions and order, under a new prefix
    replay = with_overrides(
        settings, topic=with_overrides(settings.topic, prefix=settings.topic.prefix + "r")
    )
    raw = await read_topic(settings.kafka.bootstrap, settings.topic.raw)
    from aiokafka import AIOKafkaProducer

    from tests.kafka_helpers import create_topics

    await create_topics(
        settings.kafka.bootstrap, [replay.topic.raw], partitions=settings.topic.partitions
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for r in sorted(raw, key=lambda r: (r.partition, r.offset)):
            await producer.send(
                replay.topic.raw, r.value, key=r.key, partition=r.partition, headers=list(r.headers)
            )
        await producer.flush()
    finally:
        await producer.stop()
    replayer = WorkerProcess(replay, tmp_path / "replay", overrides=FAST).start()
    try:
        await replayer.wait_ready()
        again = await _assert_projections_equal_truth(
            replay, scenario, timeout_s=120, workers=[replayer]
        )
    finally:
        replayer.stop()
    for kind in ("agent-state", "task-lifecycle"):
        assert (
            again.raw[replay.topic.name(f"projection.{kind}")]
            == live.raw[settings.topic.name(f"projection.{kind}")]
        )


async def test_two_workers_share_partitions(settings: Settings, tmp_path: Path) -> None:
    """Two workers in one group, each owning part of the partitions: same projections.

    Both join before the traffic starts; `test_worker_joining_mid_stream` has one join
    while records are in flight.
    """
    scenario = _scenario(seed=44, agents=8, tasks=150, hours=6)
    records = _delivered(scenario)
    first = WorkerProcess(settings, tmp_path / "a", name="a", overrides=FAST).start()
    second = WorkerProcess(settings, tmp_path / "b", name="b", overrides=FAST)
    try:
        await first.wait_ready()
        second.start()
        await second.wait_ready()
        await first.wait_ready()  # the rebalance that gave the second its share is over
        await produce_raw(settings.kafka.bootstrap, settings.topic.raw, records)
        await _assert_projections_equal_truth(
            settings, scenario, timeout_s=120, workers=[first, second]
        )
        # both really took part: each owns some of the per-entity partitions
        for worker in (first, second):
            doc = worker.readiness()
            assert doc is not None
            owned = {p["topic"] for p in doc["partitions"]}
            assert any(topic.endswith(".by-entity") for topic in owned), (worker.name, doc)
            assert worker.metric("wxcc_worker_events_in_total", stream="task") > 0, worker.name
    finally:
        second.stop()
        first.stop()


async def test_worker_joining_mid_stream(settings: Settings, tmp_path: Path) -> None:
    """A second worker joins while records are in flight (a rebalance under load).

    Around the rebalance Faust drops some of the records it fetched and acknowledges them
    anyway; the workers commit only what their agent finished and rewind the consumer to
    the records that did not come (`processors.shell.intake`), so nothing is lost.
    """
    scenario = _scenario(seed=44, agents=8, tasks=150, hours=6)
    records = _delivered(scenario)
    first = WorkerProcess(settings, tmp_path / "a", name="a", overrides=FAST).start()
    second = WorkerProcess(settings, tmp_path / "b", name="b", overrides=FAST)
    try:
        await first.wait_ready()
        third = len(records) // 3
        await produce_raw(settings.kafka.bootstrap, settings.topic.raw, records[:third])
        second.start()
        await produce_raw(
            settings.kafka.bootstrap, settings.topic.raw, records[third:], rate_per_s=1000
        )
        await second.wait_ready()
        await _assert_projections_equal_truth(
            settings, scenario, timeout_s=120, workers=[first, second]
        )
    finally:
        second.stop()
        first.stop()
