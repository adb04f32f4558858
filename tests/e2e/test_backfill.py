"""`wxcc-stream backfill` on the real broker with the real worker: an exported, damaged day
loads into ground-truth projections, bad lines are dead-lettered with their line, and a
second load of the same files changes no projection."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.e2e.harness import (
    ROOT,
    ProjectionReader,
    WorkerProcess,
    describe_difference,
    read_topic,
    worker_env,
)
from wxcc_stream.base.settings import Settings
from wxcc_stream.devtools.scenario import HOUR_MS, DamageConfig, ScenarioConfig, damage, generate

pytestmark = pytest.mark.broker

FAST = {"flush_timeout_ms": 1000, "tick_interval_ms": 250}


def _backfill(settings: Settings, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wxcc_stream.cli", "backfill", "--quiet", *map(str, files)],
        cwd=ROOT, env=worker_env(settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _events_in(worker: WorkerProcess) -> float:
    return sum(worker.metric("wxcc_worker_events_in_total", stream=s) for s in ("agent", "task"))


async def _wait_events_in(worker: WorkerProcess, count: float, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while _events_in(worker) < count and time.monotonic() < deadline:
        worker.assert_running()
        await asyncio.sleep(0.5)
    assert _events_in(worker) >= count, f"{_events_in(worker)} < {count}\n{worker.log_tail()}"


async def test_exported_day_loads_into_ground_truth_and_a_second_load_changes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    scenario = generate(
        ScenarioConfig(seed=12, agents=4, teams=1, queues=2, duration_ms=2 * HOUR_MS, tasks=30)
    )
    # an export in arrival order (shuffled, 10% duplicates): half as JSON Lines with two
    # bad lines in the middle, half as one JSON array
    delivered = [e for _, e in damage(scenario.events, DamageConfig(seed=3, shuffle_window_ms=
        5_000, duplicate_fraction=0.1)).deliveries]  # fmt: skip
    half = len(delivered) // 2
    lines = [orjson.dumps(e) for e in delivered[:half]]
    # a line cut short, and an event of a type that is not WxCC's
    lines[10:10] = [lines[0][:20], orjson.dumps({**delivered[0], "type": "billing:charge"})]
    jsonl = tmp_path / "day.jsonl"
    jsonl.write_bytes(b"\n".join(lines) + b"\n")
    array = tmp_path / "day.json"
    array.write_bytes(orjson.dumps(delivered[half:], option=orjson.OPT_INDENT_2))

    worker = WorkerProcess(settings, tmp_path / "w", overrides=FAST).start()
    truth = {
        settings.topic.agent_state: scenario.agent_truth,
        settings.topic.task_lifecycle: scenario.task_truth,
    }
    try:
        await worker.wait_ready()
        first = _backfill(settings, jsonl, array)
        assert first.returncode == 3, first.stderr  # stored, two lines dead-lettered
        assert f"{len(delivered):,} in the raw topic, 2 dead-lettered" in first.stdout
        async with ProjectionReader(settings.kafka.bootstrap, list(truth)) as reader:
            done = await reader.wait_for(truth, timeout_s=120)
            report = {t: describe_difference(reader.docs[t], w) for t, w in truth.items()}
            assert done, f"{report}\n{worker.log_tail()}"
            await reader.settle()
            published, folded = reader.records, _events_in(worker)

            again = _backfill(settings, jsonl, array)
            assert again.returncode == 3, again.stderr
            await _wait_events_in(worker, 2 * folded)
            await reader.settle(quiet_s=3.0)
            assert reader.records == published  # not one projection record more
            assert all(reader.docs[t] == w for t, w in truth.items())
    finally:
        worker.stop()

    raw = await read_topic(settings.kafka.bootstrap, settings.topic.raw)
    assert len(raw) == 2 * len(delivered)
    letters = await read_topic(settings.kafka.bootstrap, settings.topic.deadletter)
    where = sorted(
        (dict(r.headers)["backfill_line"], dict(r.headers)["dl_reason"]) for r in letters
    )
    assert where == sorted([(b"11", b"invalid_json"), (b"12", b"unknown_type")] * 2)


def test_a_file_that_is_not_an_export_stops_with_a_clear_error(
    settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "broken.json"
    bad.write_bytes(b"[{")
    done = _backfill(settings, bad)
    assert done.returncode == 2
    assert "broken.json: not a JSON array" in done.stderr
    missing = _backfill(settings, tmp_path / "nowhere.jsonl")
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
