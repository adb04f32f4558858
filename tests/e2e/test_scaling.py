"""Scaling on the real broker: the raw topic grows mid-stream and a second worker joins;
the projections still equal the generator's ground truth."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from tests.e2e.api_harness import ApiProcess
from tests.e2e.harness import (
    ROOT,
    ProjectionReader,
    WorkerProcess,
    describe_difference,
    produce_raw,
    raw_records,
    worker_env,
)
from wxcc_stream.base.settings import Settings
from wxcc_stream.base.topic_log import partitions_of, read_topic
from wxcc_stream.devtools.scenario import HOUR_MS, DamageConfig, ScenarioConfig, damage, generate
from wxcc_stream.processors.replay.generations import Generations
from wxcc_stream.processors.shell.app import app_id

pytestmark = pytest.mark.broker

KINDS = ("agent", "task")

# a short metadata age: the worker notices the raw topic's new partitions within seconds
FAST = {
    "flush_timeout_ms": 1000, "tick_interval_ms": 250, "metadata_max_age_ms": 2000,
    "generation_check_ms": 1000,
}  # fmt: skip
DAMAGE = DamageConfig(
    seed=9, shuffle_window_ms=5_000, duplicate_fraction=0.10, late_fraction=0.03,
    late_delay_ms=600_000,
)  # fmt: skip


async def grow(bootstrap: str, topic: str, partitions: int) -> None:
    """Kafka's own partition increase (what `wxcc-stream topics scale` does to the raw topic)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_partitions({topic: NewPartitions(total_count=partitions)})
    finally:
        await admin.close()


async def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition of `topic`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


async def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


async def test_raw_topic_grows_and_a_second_worker_joins_mid_stream(
    settings: Settings, tmp_path: Path
) -> None:
    """A second worker joins after a third of the day, the raw topic grows 4 -> 6
    partitions after two thirds (both workers running, each with its view of the counts).

    Records of one entity then sit in two raw partitions (keyed mod 4 before, mod 6
    after), and the raw topic is no longer co-partitioned with the per-entity streams and
    tables (still 4): the worker must notice the new partitions and send every raw record
    through its entity's stream, whoever owns which partition.
    """
    scenario = generate(ScenarioConfig(
        seed=46, agents=8, teams=2, queues=3, duration_ms=6 * HOUR_MS, tasks=150,
    ))  # fmt: skip
    delivery = damage(scenario.events, DAMAGE)
    records = raw_records(event for _, event in delivery.deliveries)
    bootstrap, raw = settings.kafka.bootstrap, settings.topic.raw
    first = WorkerProcess(settings, tmp_path / "a", name="a", overrides=FAST).start()
    second = WorkerProcess(settings, tmp_path / "b", name="b", overrides=FAST)
    third = len(records) // 3
    try:
        await first.wait_ready()
        await produce_raw(bootstrap, raw, records[:third], rate_per_s=2000)
        second.start()
        await produce_raw(bootstrap, raw, records[third : 2 * third], rate_per_s=1000)
        await second.wait_ready()
        await grow(bootstrap, raw, settings.topic.partitions + 2)
        # a new producer: its metadata has the six partitions, so keys spread over them
        await produce_raw(bootstrap, raw, records[2 * third :], rate_per_s=1000)
        truth = {
            settings.topic.agent_state: scenario.agent_truth,
            settings.topic.task_lifecycle: scenario.task_truth,
        }
        async with ProjectionReader(bootstrap, list(truth)) as reader:
            done = await reader.wait_for(truth, timeout_s=180)
            first.assert_running()
            second.assert_running()
            report: Any = {t: describe_difference(reader.docs[t], w) for t, w in truth.items()}
            assert done, f"{report}\n{first.log_tail(25)}\n{second.log_tail(25)}"
    finally:
        second.stop()
        first.stop()
    # the new partitions took records and the workers read (and committed) them to the end
    grown = settings.topic.partitions + 2
    ends = await end_offsets(bootstrap, raw, grown)
    assert all(ends[p] > 0 for p in range(settings.topic.partitions, grown)), ends
    assert await committed(bootstrap, app_id(settings), raw) == ends


def _wxcc(settings: Settings, tmp_path: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    with (tmp_path / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "wxcc_stream.cli", *args],
            cwd=ROOT, env=worker_env(settings, flush_timeout_ms=1000), stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


async def test_topics_scale_under_traffic(settings: Settings, tmp_path: Path) -> None:
    """`wxcc-stream topics scale --partitions 6` while a worker runs and traffic flows:
    the raw topic and the new generation have 6 partitions, the generation is promoted,
    the running worker stops with exit code 75 once it sees the promote, and started again
    it runs generation 2: its projections equal the ground truth of everything sent.

    Two scenarios of disjoint agents and tasks: day A is stored before the command, day
    B is sent while it runs and after (the replay's range ends inside B; the restarted
    worker folds the rest into generation 2).
    """
    day_a = generate(ScenarioConfig(
        seed=47, agents=6, teams=2, queues=2, duration_ms=4 * HOUR_MS, tasks=80,
    ))  # fmt: skip
    day_b = generate(ScenarioConfig(
        seed=48, agents=3, teams=1, queues=2, duration_ms=3 * HOUR_MS, tasks=40,
    ))  # fmt: skip
    records_a = raw_records(event for _, event in damage(day_a.events, DAMAGE).deliveries)
    records_b = raw_records(event for _, event in damage(day_b.events, DAMAGE).deliveries)
    bootstrap, t = settings.kafka.bootstrap, settings.topic
    live = [t.agent_state, t.task_lifecycle]
    promoted = [t.in_generation(topic, 2) for topic in live]
    worker = WorkerProcess(settings, tmp_path / "w", overrides=FAST).start()
    check = {"WXCC_API_GENERATION_CHECK_MS": "1000"}
    api = ApiProcess(settings, tmp_path / "api.log", extra_env=check).start()
    scale: subprocess.Popen[bytes] | None = None
    try:
        await worker.wait_ready()
        await asyncio.to_thread(api.wait_ready)
        await produce_raw(bootstrap, t.raw, records_a, rate_per_s=3000)
        traffic = asyncio.create_task(
            produce_raw(bootstrap, t.raw, records_b, rate_per_s=len(records_b) / 20)
        )
        await asyncio.sleep(2)
        scale = _wxcc(settings, tmp_path, "scale", "topics", "scale", "--partitions", "6")
        code = await asyncio.to_thread(scale.wait, 180)
        output = (tmp_path / "scale.log").read_text(errors="replace")
        assert code == 0, output
        assert not traffic.done(), "the traffic ended before the command: not under traffic"
        await traffic
        assert "[1/3]" in output, output
        assert "4 -> 6 partitions" in output, output
        assert "generation 2 (6 partitions) is current" in output, output
        assert await asyncio.to_thread(_exit_code, worker, 60) == 75, worker.log_tail(25)
        assert await asyncio.to_thread(_exit_code, api, 60) == 75, api.log_tail(25)
        api.start()
        worker.start()
        await worker.wait_ready()
        started = worker.log_tail(200)
        assert "generation 2 (6 partitions)" in started, worker.log_tail(25)
        # its tables came from the replay: it reads the raw topic from the range's end only
        assert "tables seeded by its replay" in started, worker.log_tail(25)
        truth = {
            promoted[0]: {**day_a.agent_truth, **day_b.agent_truth},
            promoted[1]: {**day_a.task_truth, **day_b.task_truth},
        }
        async with ProjectionReader(bootstrap, promoted) as reader:
            done = await reader.wait_for(truth, timeout_s=180)
            worker.assert_running()
            report: Any = {k: describe_difference(reader.docs[k], w) for k, w in truth.items()}
            assert done, f"{report}\n{worker.log_tail(25)}"
        span = Generations.fold(await read_topic(bootstrap, t.generations)).ranges[2]
        replayed = sum(end - start for start, end in span.offsets.values())
        after = len(records_a) + len(records_b) - replayed
        assert len(records_a) <= replayed, (after, replayed)
        assert 0 <= after < len(records_b), (after, replayed)
        # at most two entity copies (agent and task) per raw record it read
        routed = sum(worker.metric("wxcc_worker_raw_routed_total", stream=k) for k in KINDS)
        assert 0 < routed <= 2 * after, (routed, after, replayed)
        # the API, started again, reads generation 2
        await asyncio.to_thread(api.wait_ready)
        agents = {d["agentId"]: d for d in api.all_pages("/agents", limit=1000)}
        tasks = {d["taskId"]: d for d in api.all_pages("/tasks", limit=1000)}
        assert agents == truth[promoted[0]], describe_difference(agents, truth[promoted[0]])
        assert tasks == truth[promoted[1]], describe_difference(tasks, truth[promoted[1]])
    finally:
        if scale is not None and scale.poll() is None:
            scale.kill()
        api.stop()
        worker.stop()
    for topic in (t.raw, *promoted):
        assert len(await partitions_of(bootstrap, topic)) == 6, topic
    listed = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "wxcc_stream.cli", "generations", "list"],
        cwd=ROOT, env=worker_env(settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "g2: complete" in listed.stdout, listed
    assert "current for agent-state, task-lifecycle" in listed.stdout.split("g2:")[1], listed
    shrink = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "wxcc_stream.cli", "topics", "scale", "--partitions", "4"],
        cwd=ROOT, env=worker_env(settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shrink.returncode == 2, shrink
    assert "cannot remove" in shrink.stderr, shrink


def _exit_code(child: WorkerProcess | ApiProcess, timeout_s: float) -> int | None:
    """A child's exit code once it has stopped by itself (None: still running)."""
    assert child.proc is not None
    try:
        return child.proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None
