"""Table stores: a worker killed with SIGKILL mid-stream and restarted on the same data dir
ends with the ground-truth projections, with RocksDB (its databases reopened in place, the
dead process's LOCK files and all) and with memory:// when asked for explicitly.

rocksdict is a project dependency, so `auto` (and `rocksdb://`) resolve to RocksDB here.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from rocksdict import AccessType, Options, Rdict

from tests.e2e.harness import (
    ProjectionReader,
    WorkerProcess,
    describe_difference,
    produce_raw,
    raw_records,
    read_topic,
)
from wxcc_stream.base.settings import Settings
from wxcc_stream.devtools.scenario import (
    HOUR_MS,
    DamageConfig,
    Scenario,
    ScenarioConfig,
    damage,
    generate,
)
from wxcc_stream.processors.shell.app import app_id, resolve_store

DAMAGE = DamageConfig(
    seed=11, shuffle_window_ms=5_000, duplicate_fraction=0.10, late_fraction=0.03,
    late_delay_ms=600_000,
)  # fmt: skip
FAST = {"flush_timeout_ms": 1000, "tick_interval_ms": 250}
# Faust's RocksDB store keeps the last changelog offset it wrote in each database under this key
_OFFSET_KEY = b"__faust\0offset__"


def _scenario() -> Scenario:
    config = ScenarioConfig(
        seed=57, agents=8, teams=2, queues=3, duration_ms=6 * HOUR_MS, tasks=150
    )
    return generate(config)


def _delivered(scenario: Scenario) -> list[tuple[bytes, bytes, Any]]:
    delivery = damage(scenario.events, DAMAGE)
    assert delivery.duplicated
    assert not delivery.dropped
    return raw_records(event for _, event in delivery.deliveries)


def _table_dbs(data_dir: Path) -> list[Path]:
    """The per-partition RocksDB databases of the worker's tables (Faust's `tabledir`, under
    a directory named after the app id)."""
    return sorted(data_dir.glob("*/v*/tables/*.db"))


def _values(db_path: Path) -> dict[bytes, bytes]:
    """Every key and value of one database (the changelog offset included), read-only."""
    # read-only takes no LOCK: works beside a live or killed worker
    db = Rdict(str(db_path), options=Options(raw_mode=True), access_type=AccessType.read_only())
    try:
        return dict(db.items())
    finally:
        db.close()


def _rows(db_path: Path) -> tuple[int, bool]:
    """(table values, whether a changelog offset is persisted) of one database."""
    keys = _values(db_path)
    return sum(1 for k in keys if k != _OFFSET_KEY), _OFFSET_KEY in keys


async def _assert_stores_equal_changelogs(
    settings: Settings, worker: WorkerProcess, dbs: list[Path]
) -> None:
    """Each local table partition holds what its changelog holds (latest value per key): a
    worker that rebuilds a partition from the changelog gets the same table."""
    by_table: dict[str, dict[int, dict[bytes, bytes]]] = defaultdict(dict)
    for db in dbs:
        table, _, partition = db.name.removesuffix(".db").rpartition("-")
        values = _values(db)
        values.pop(_OFFSET_KEY, None)
        by_table[table][int(partition)] = values
    for table, partitions in by_table.items():
        topic = f"{app_id(settings)}-{table}-changelog"
        logged: dict[int, dict[bytes, bytes]] = defaultdict(dict)
        for record in await read_topic(settings.kafka.bootstrap, topic):
            if record.value is None:
                logged[record.partition].pop(record.key, None)
            else:
                logged[record.partition][record.key] = record.value
        for partition, values in partitions.items():
            differing = sorted(
                k
                for k in {*values, *logged[partition]}
                if values.get(k) != logged[partition].get(k)
            )
            assert not differing, (
                f"{table}[{partition}]: {len(differing)} keys differ between the local store "
                f"and the changelog, e.g. {differing[:5]}\n{worker.log_tail(10)}"
            )


async def _settle(settings: Settings, quiet_s: float = 3.0, timeout_s: float = 60.0) -> None:
    """Until no projection record came for `quiet_s` (the worker has caught up)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with ProjectionReader(
        settings.kafka.bootstrap, [settings.topic.agent_state, settings.topic.task_lifecycle]
    ) as reader:
        quiet_since = loop.time()
        while loop.time() < deadline and loop.time() - quiet_since < quiet_s:
            if await reader.poll():
                quiet_since = loop.time()


async def _kill_mid_stream(
    worker: WorkerProcess,
    settings: Settings,
    records: list[tuple[bytes, bytes, Any]],
    *,
    rest: bool = True,
) -> None:
    """Feed the first half paced over about 6 s and SIGKILL the worker while it is flowing;
    then the second half too unless `rest` is False."""
    half = len(records) // 2
    feeding = asyncio.create_task(
        produce_raw(
            settings.kafka.bootstrap, settings.topic.raw, records[:half], rate_per_s=half / 6
        )
    )
    async with ProjectionReader(
        settings.kafka.bootstrap, [settings.topic.agent_state, settings.topic.task_lifecycle]
    ) as reader:
        while reader.records < 20 and not feeding.done():
            await reader.poll()
    assert not feeding.done(), "the feed ended before the kill: slow it down"
    worker.kill()
    await feeding
    if rest:
        await produce_raw(settings.kafka.bootstrap, settings.topic.raw, records[half:])


async def _assert_projections_equal_truth(
    settings: Settings, scenario: Scenario, worker: WorkerProcess
) -> None:
    truth = {
        settings.topic.agent_state: scenario.agent_truth,
        settings.topic.task_lifecycle: scenario.task_truth,
    }
    async with ProjectionReader(settings.kafka.bootstrap, list(truth)) as reader:
        done = await reader.wait_for(truth, timeout_s=120)
        worker.assert_running()
        if not done:
            report = "\n".join(
                f"{topic}: {describe_difference(reader.docs[topic], want)}"
                for topic, want in truth.items()
            )
            raise AssertionError(
                f"projections differ from the ground truth:\n{report}\n{worker.log_tail(25)}"
            )


@pytest.mark.parametrize(
    ("requested", "store"),
    [("auto", "rocksdb://"), ("", "rocksdb://"), ("rocksdb://", "rocksdb://"),
     ("memory://", "memory://")],
)  # fmt: skip
def test_resolve_store_with_the_driver_installed(requested: str, store: str) -> None:
    """With rocksdict installed the default `auto` is RocksDB; memory:// stays when asked."""
    assert resolve_store(requested) == store


@pytest.mark.broker
async def test_rocksdb_tables_reopen_after_sigkill(settings: Settings, tmp_path: Path) -> None:
    """RocksDB: killed mid-stream, restarted on the same data dir, it reopens its databases
    (the dead process's LOCK files still there) and ends with the ground truth."""
    scenario = _scenario()
    records = _delivered(scenario)
    worker = WorkerProcess(settings, tmp_path / "w", overrides={**FAST, "store": "rocksdb://"})
    worker.start()
    try:
        await worker.wait_ready()
        await _kill_mid_stream(worker, settings, records, rest=False)
        killed = _table_dbs(worker.data_dir)
        assert killed, f"no RocksDB databases under {worker.data_dir}:\n{worker.log_tail(25)}"
        assert all((db / "LOCK").exists() for db in killed)
        rows = {db.name: _rows(db) for db in killed}
        assert any(values and offset for values, offset in rows.values()), rows

        # restarted with nothing new to read, it replays what was not committed: a value
        # written locally just before the kill, whose changelog record died with the
        # process, must reach the changelog now (a worker taking the partition over would
        # rebuild it from there), not only when its entity happens to change again
        worker.start()
        await worker.wait_ready()
        await _settle(settings)
        assert worker.stop() == 0, worker.log_tail(25)
        await _assert_stores_equal_changelogs(settings, worker, killed)

        worker.start()
        await worker.wait_ready()
        await produce_raw(
            settings.kafka.bootstrap, settings.topic.raw, records[len(records) // 2 :]
        )
        await _assert_projections_equal_truth(settings, scenario, worker)
        # the same databases, reopened in place, not a fresh set beside them
        assert _table_dbs(worker.data_dir) == killed
    finally:
        worker.stop()
    await _assert_stores_equal_changelogs(settings, worker, killed)
    log = worker.log_path.read_text(errors="replace")
    assert "IO error" not in log, worker.log_tail(40)


@pytest.mark.broker
async def test_memory_store_when_asked(settings: Settings, tmp_path: Path) -> None:
    """memory:// (even with a RocksDB driver installed): killed mid-stream and restarted, the
    tables are rebuilt from their changelogs and the projections equal the ground truth."""
    scenario = _scenario()
    records = _delivered(scenario)
    worker = WorkerProcess(settings, tmp_path / "w", overrides={**FAST, "store": "memory://"})
    worker.start()
    try:
        await worker.wait_ready()
        await _kill_mid_stream(worker, settings, records)
        worker.start()
        await worker.wait_ready()
        await _assert_projections_equal_truth(settings, scenario, worker)
    finally:
        worker.stop()
    assert _table_dbs(worker.data_dir) == []
