"""`wxcc-stream replay` on the real broker: a damaged day run through the live worker,
then replayed into new generations: every key's latest document is byte-identical to the
live one (and to the ground truth), after a SIGKILL and a rerun too, and with two replay
processes sharing the work as one consumer group."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
from wxcc_stream.devtools.scenario import HOUR_MS, DamageConfig, ScenarioConfig, damage, generate

pytestmark = pytest.mark.broker

FAST = {"flush_timeout_ms": 1000, "tick_interval_ms": 250}
HEARTBEAT_S = 3.0  # aiokafka's heartbeat_interval_ms default, which the replay keeps


_STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _no_replay_left() -> Iterator[None]:
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _replay(settings: Settings, tmp_path: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    with (tmp_path / f"{name}.log").open("wb") as log:
        proc = subprocess.Popen(
        [sys.executable, "-m", "wxcc_stream.cli", "replay", "--quiet", *args],
            cwd=ROOT, env=worker_env(settings, **FAST), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    _STARTED.append(proc)
    return proc


def _generations(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wxcc_stream.cli", "generations", *args],
        cwd=ROOT, env=worker_env(settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _finished(proc: subprocess.Popen[bytes], tmp_path: Path, name: str) -> str:
    code = proc.wait(timeout=180)
    text = (tmp_path / f"{name}.log").read_text(errors="replace")
    assert code == 0, text
    return text


def _same(got: dict[str, dict[str, bytes]], live: dict[str, dict[str, bytes]]) -> str:
    """'' when every topic has live's keys with live's bytes, else what differs."""
    lines = []
    for (topic, docs), want in zip(got.items(), live.values(), strict=True):
        if docs != want:
            keys = sorted(set(docs) | set(want))
            diff = [k for k in keys if docs.get(k) != want.get(k)]
            lines.append(f"{topic}: {len(diff)} of {len(want)} differ, e.g.")
            lines += [f"  got  {docs.get(k)!r}\n  live {want.get(k)!r}" for k in diff[:2]]
    return "\n".join(lines)


async def _latest(settings: Settings, topics: list[str]) -> dict[str, dict[str, bytes]]:
    async with ProjectionReader(settings.kafka.bootstrap, topics) as reader:
        await reader.settle(quiet_s=2.0)
        return {t: reader.raw[t] for t in topics}


def _generation(settings: Settings, n: int) -> list[str]:
    t = settings.topic
    return [t.in_generation(t.agent_state, n), t.in_generation(t.task_lifecycle, n)]


async def test_replayed_generations_are_byte_identical_to_live(
    settings: Settings, tmp_path: Path
) -> None:
    scenario = generate(ScenarioConfig(
        seed=41, agents=5, teams=1, queues=2, duration_ms=2 * HOUR_MS, tasks=60,
        consult_probability=0.3, conference_probability=0.3,
    ))  # fmt: skip
    delivery = damage(scenario.events, DamageConfig(
        seed=41, shuffle_window_ms=5_000, duplicate_fraction=0.1, late_fraction=0.03,
        late_delay_ms=600_000, twin_fraction=0.05, conflict_fraction=0.02,
    ))  # fmt: skip
    records = raw_records(event for _, event in delivery.deliveries)
    live_topics = _generation(settings, 1)
    truth = dict(zip(live_topics, (scenario.agent_truth, scenario.task_truth), strict=True))

    worker = WorkerProcess(settings, tmp_path / "w", overrides=FAST).start()
    try:
        await worker.wait_ready()
        await produce_raw(settings.kafka.bootstrap, settings.topic.raw, records)
        async with ProjectionReader(settings.kafka.bootstrap, live_topics) as reader:
            done = await reader.wait_for(truth, timeout_s=120)
            report = {t: describe_difference(reader.docs[t], w) for t, w in truth.items()}
            assert done, f"{report}\n{worker.log_tail()}"
    finally:
        worker.stop()
    live = await _latest(settings, live_topics)

    # one process into generation 2 (the next free number)
    first = _finished(_replay(settings, tmp_path, "g2"), tmp_path, "g2")
    assert "generation 2:" in first
    g2 = await _latest(settings, _generation(settings, 2))
    assert not _same(g2, live), _same(g2, live)

    # generation 3, SIGKILLed once it has sent documents, then run again
    killed = _replay(settings, tmp_path, "g3-killed", "--generation", "3", "--batch-max", "50")
    await _wait_for_documents(settings, _generation(settings, 3)[1], killed)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(timeout=10)
    _finished(_replay(settings, tmp_path, "g3"), tmp_path, "g3")  # the unfinished one: 3
    g3 = await _latest(settings, _generation(settings, 3))
    assert not _same(g3, live), _same(g3, live)

    # generation 4 by two processes in one group
    # the second process joins while the first is at work (stopped meanwhile, so it cannot
    # finish alone) and takes over half the partitions, rebuilt from the start of the range
    args = ("--generation", "4", "--batch-max", "10")
    pair = [_replay(settings, tmp_path, "g4-0", *args)]
    await _wait_for_documents(settings, _generation(settings, 4)[1], pair[0])
    os.killpg(pair[0].pid, signal.SIGSTOP)
    stopped = time.monotonic()
    pair.append(_replay(settings, tmp_path, "g4-1", *args))
    # the second one starts and asks to join (its start alone takes seconds on a busy machine)
    await _wait_for_join(tmp_path / "g4-1.log", pair[1])
    # the first learns of a rebalance from its next heartbeat (every 3 s, aiokafka's
    # default): stopped longer than that, its heartbeat is overdue when it resumes and it
    # rejoins at once; otherwise it could finish the rest before it hears of the second
    await asyncio.sleep(max(1.0, HEARTBEAT_S + 0.5 - (time.monotonic() - stopped)))
    os.killpg(pair[0].pid, signal.SIGCONT)
    outs = [_finished(p, tmp_path, f"g4-{i}") for i, p in enumerate(pair)]
    g4 = await _latest(settings, _generation(settings, 4))
    assert not _same(g4, live), (_same(g4, live), outs)
    assert all("partitions finished here: none" not in out for out in outs), outs

    # switching over, and back
    assert _generations(settings, "promote", "9").returncode == 2  # never replayed
    assert _generations(settings, "promote", "2").returncode == 0
    listed = _generations(settings, "list").stdout
    assert "g2: complete" in listed
    assert "current for agent-state, task-lifecycle" in listed
    refused = _generations(settings, "drop", "2")
    assert refused.returncode == 2
    assert "is current" in refused.stderr
    assert _generations(settings, "promote", "1").returncode == 0
    dropped = _generations(settings, "drop", "2")
    assert dropped.returncode == 0, dropped.stderr
    assert _generation(settings, 2)[0] in dropped.stdout
    assert "g2: dropped" in _generations(settings, "list").stdout


async def _wait_for_join(log: Path, proc: subprocess.Popen[bytes]) -> None:
    """Until the replay logs that it joins its group (aiokafka revokes before a join)."""
    deadline = time.monotonic() + 60
    while b"Revoking previously assigned partitions" not in await asyncio.to_thread(log.read_bytes):
        assert proc.poll() is None, "the second replay ended before it joined"
        assert time.monotonic() < deadline, "the second replay did not ask to join in 60 s"
        await asyncio.sleep(0.1)


async def _wait_for_documents(
    settings: Settings, topic: str, proc: subprocess.Popen[bytes]
) -> None:
    async with ProjectionReader(settings.kafka.bootstrap, [topic]) as reader:
        deadline = time.monotonic() + 60
        while not reader.raw[topic] and time.monotonic() < deadline:
            assert proc.poll() is None, "the replay ended before it could be killed"
            await reader.poll()
    assert reader.raw[topic], "the replay sent nothing in 60 s"
