"""The PostgreSQL sink on the whole pipeline: a generated day through ingress-like raw
records, the worker and the sink into a real PostgreSQL server; the tables equal the
scenario's ground truth, also across a SIGKILL of the sink."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from jsonschema import Draft202012Validator

from tests.e2e.harness import ProjectionReader, WorkerProcess, produce_raw, read_topic
from tests.e2e.sink_harness import SinkProcess, row_count, table_documents, wait_for_tables
from tests.e2e.test_pipeline import FAST, _delivered, _scenario
from tests.kafka_helpers import create_topics
from tests.unit.sink_documents import agent_doc, as_bytes, task_doc
from wxcc_stream.base.settings import Settings
from wxcc_stream.base.topic_log import append
from wxcc_stream.devtools.postgres import LocalPostgres
from wxcc_stream.devtools.scenario import Scenario
from wxcc_stream.schemas.files import projection_schema
from wxcc_stream.schemas.generations import current_key

pytestmark = pytest.mark.broker


def _table_truth(scenario: Scenario) -> dict[str, Any]:
    return {"agent_state": scenario.agent_truth, "task_lifecycle": scenario.task_truth}


async def test_a_day_from_the_beginning_gives_ground_truth_rows(
    settings: Settings, postgres_dsn: str, tmp_path: Path
) -> None:
    """The sink started after the worker is done reads the topics from the beginning."""
    scenario = _scenario(seed=31, agents=10, tasks=200, hours=8)
    worker = WorkerProcess(settings, tmp_path / "w", overrides=FAST).start()
    sink = SinkProcess(settings, postgres_dsn, tmp_path / "sink.log")
    try:
        await worker.wait_ready()
        await produce_raw(settings.kafka.bootstrap, settings.topic.raw, _delivered(scenario))
        truth = {
            settings.topic.agent_state: scenario.agent_truth,
            settings.topic.task_lifecycle: scenario.task_truth,
        }
        async with ProjectionReader(settings.kafka.bootstrap, list(truth)) as reader:
            assert await reader.wait_for(truth, timeout_s=120), "worker did not reach the truth"
        sink.start()
        await _assert_every_emitted_document_validates(settings)
        await wait_for_tables(postgres_dsn, _table_truth(scenario), sink, timeout_s=120)
        assert sink.stop() == 0
    finally:
        sink.kill()
        worker.stop()


async def _assert_every_emitted_document_validates(settings: Settings) -> None:
    """Every record the worker published (not only the last per key) against its schema
    (docs/consumers.md, "Schema evolution")."""
    for name, topic in (
        ("agent-state", settings.topic.agent_state),
        ("task-lifecycle", settings.topic.task_lifecycle),
    ):
        validator = Draft202012Validator(projection_schema(name))
        records = await read_topic(settings.kafka.bootstrap, topic)
        assert records
        for record in records:
            errors = [e.message for e in validator.iter_errors(orjson.loads(record.value))]
            assert errors == [], (topic, record.key, errors[:3])


async def test_a_sigkilled_sink_restarts_to_ground_truth_rows(
    settings: Settings, postgres_dsn: str, tmp_path: Path
) -> None:
    """Killed mid-stream (small batches, so many transactions), restarted: nothing lost,
    nothing doubled, no row behind its topic."""
    scenario = _scenario(seed=32, agents=10, tasks=200, hours=8)
    worker = WorkerProcess(settings, tmp_path / "w", overrides=FAST).start()
    sink = SinkProcess(settings, postgres_dsn, tmp_path / "sink.log", batch_max_records=20)
    try:
        await worker.wait_ready()
        sink.start()
        await produce_raw(settings.kafka.bootstrap, settings.topic.raw, _delivered(scenario))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while row_count(postgres_dsn) == 0:
            sink.assert_running()
            assert loop.time() < deadline, f"no rows written:\n{sink.log_tail()}"
            await asyncio.sleep(0.05)
        sink.kill()
        partial = row_count(postgres_dsn)
        assert 0 < partial < len(scenario.agent_truth) + len(scenario.task_truth)
        sink.start()
        await wait_for_tables(postgres_dsn, _table_truth(scenario), sink, timeout_s=180)
    finally:
        sink.kill()
        worker.stop()


async def _publish(settings: Settings, *records: tuple[str, str, bytes]) -> None:
    """Create both projection topics (compacted, if missing) and send (topic, key, value)."""
    topics = [settings.topic.agent_state, settings.topic.task_lifecycle]
    await create_topics(settings.kafka.bootstrap, topics, compacted=True)
    await _send(settings, *records)


async def _send(settings: Settings, *records: tuple[str, str, bytes]) -> None:
    """Send (topic, key, value) records, acknowledged by all in-sync replicas."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def test_records_out_of_order_and_bad_ones_on_the_topics(
    settings: Settings, postgres_dsn: str, tmp_path: Path
) -> None:
    """An older revision after a newer one on the topic leaves the newer row; a record
    that is no document is skipped and counted; /readyz turns 200 once caught up."""
    agents, tasks = settings.topic.agent_state, settings.topic.task_lifecycle
    newer = agent_doc("a1", 5, state="available")
    task = task_doc("t1", 2, status="connected")
    await _publish(
        settings,
        (agents, "a1", as_bytes(newer)),
        (agents, "a1", as_bytes(agent_doc("a1", 3))),
        (agents, "a2", b"not a document"),
        (tasks, "t1", as_bytes(task)),
    )
    sink = SinkProcess(settings, postgres_dsn, tmp_path / "sink.log").start()
    try:
        want = {"agent_state": {"a1": newer}, "task_lifecycle": {"t1": task}}
        await wait_for_tables(postgres_dsn, want, sink, timeout_s=60)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while sink.get("/readyz")[0] != 200:
            assert loop.time() < deadline, f"not ready: {sink.get('/readyz')}"
            await asyncio.sleep(0.25)
        metrics = sink.get("/metrics")[1].decode()
        assert 'wxcc_sink_bad_records_total{projection="agent_state"} 1.0' in metrics
        assert 'wxcc_sink_rows_changed_total{projection="agent_state"} 1.0' in metrics
        assert sink.stop() == 0
    finally:
        sink.kill()


async def test_the_sink_follows_a_promoted_generation(
    settings: Settings, postgres_dsn: str, tmp_path: Path
) -> None:
    """Promoting generation 2 of agent-state reloads that table from `<topic>.g2` (lower
    revisions and a key fewer included: a replay's own history), leaves the task table
    on generation 1, then follows g2 live and no longer reads the old topic; a restart
    does not reload again."""
    agents, tasks = settings.topic.agent_state, settings.topic.task_lifecycle
    agents_g2 = settings.topic.in_generation(agents, 2)
    live_a1, live_a2, task = (
        agent_doc("a1", 9, state="available"),
        agent_doc("a2", 4),
        task_doc("t1", 5),
    )
    await _publish(
        settings, (agents, "a1", as_bytes(live_a1)), (agents, "a2", as_bytes(live_a2)),
        (tasks, "t1", as_bytes(task)),
    )  # fmt: skip
    replayed_a1, replayed_a3 = agent_doc("a1", 3, state="idle"), agent_doc("a3", 2)
    await create_topics(settings.kafka.bootstrap, [agents_g2], compacted=True)
    await _send(
        settings, (agents_g2, "a1", as_bytes(replayed_a1)), (agents_g2, "a3", as_bytes(replayed_a3))
    )
    sink = SinkProcess(settings, postgres_dsn, tmp_path / "sink.log", generation_check_s=0.5)
    sink.start()
    try:
        live = {"agent_state": {"a1": live_a1, "a2": live_a2}, "task_lifecycle": {"t1": task}}
        await wait_for_tables(postgres_dsn, live, sink, timeout_s=60, hold_s=0.5)

        await append(
            settings.kafka.bootstrap,
            settings.topic.generations,
            [(current_key("agent-state"), b"2")],
        )
        promoted = {
            "agent_state": {"a1": replayed_a1, "a3": replayed_a3},
            "task_lifecycle": {"t1": task},
        }
        await wait_for_tables(postgres_dsn, promoted, sink, timeout_s=60, hold_s=0.5)

        newer_a1 = agent_doc("a1", 4, state="connected")
        await _send(
            settings,
            (agents_g2, "a1", as_bytes(newer_a1)),
            (agents, "a1", as_bytes(agent_doc("a1", 20))),
        )
        followed = {
            "agent_state": {"a1": newer_a1, "a3": replayed_a3},
            "task_lifecycle": {"t1": task},
        }
        await wait_for_tables(postgres_dsn, followed, sink, timeout_s=60, hold_s=1.0)
        metrics = sink.get("/metrics")[1].decode()
        assert 'wxcc_sink_generation{projection="agent_state"} 2.0' in metrics
        assert 'wxcc_sink_generation{projection="task_lifecycle"} 1.0' in metrics
        assert sink.stop() == 0

        sink.start()
        await wait_for_tables(postgres_dsn, followed, sink, timeout_s=60, hold_s=2.0)
        assert sink.stop() == 0
        assert sink.log_path.read_text().count("reloading the table") == 1
    finally:
        sink.kill()


async def test_a_higher_schema_version_stops_the_sink_before_writing_it(
    settings: Settings, postgres_dsn: str, tmp_path: Path
) -> None:
    """The evolution rules: a document that may mean something else is not guessed at."""
    agents = settings.topic.agent_state
    known = agent_doc("a1", 1)
    await _publish(settings, (agents, "a1", as_bytes(known)))
    sink = SinkProcess(settings, postgres_dsn, tmp_path / "sink.log").start()
    try:
        want = {"agent_state": {"a1": known}, "task_lifecycle": {}}
        await wait_for_tables(postgres_dsn, want, sink, timeout_s=60, hold_s=0.5)
        newer = agent_doc("a1", 2) | {"schema_version": 2}
        await _publish(settings, (agents, "a1", orjson.dumps(newer)))
        assert sink.proc is not None
        code = await asyncio.to_thread(sink.proc.wait, 60)
        assert code == 1
        assert "schema_version 2" in sink.log_tail()
        assert table_documents(postgres_dsn)["agent_state"] == {"a1": known}
    finally:
        sink.kill()


async def test_a_database_that_comes_later_is_waited_for(
    settings: Settings, postgres_server: LocalPostgres, tmp_path: Path
) -> None:
    """Unreachable database: not ready, retried, counted; then it writes what it holds."""
    doc = agent_doc("a1", 1)
    await _publish(settings, (settings.topic.agent_state, "a1", as_bytes(doc)))
    name = f"late{settings.topic.prefix}"
    dsn = postgres_server.dsn(name)
    sink = SinkProcess(settings, dsn, tmp_path / "sink.log").start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while sink.metric("wxcc_sink_database_errors_total") < 1:
            sink.assert_running()
            assert loop.time() < deadline, sink.log_tail()
            await asyncio.sleep(0.1)
        status, body = sink.get("/readyz")
        assert status == 503
        assert "database" in orjson.loads(body)["error"]
        with psycopg.connect(postgres_server.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}".encode())
        want = {"agent_state": {"a1": doc}, "task_lifecycle": {}}
        await wait_for_tables(dsn, want, sink, timeout_s=60)
    finally:
        sink.kill()
