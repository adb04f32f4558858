"""Benchmark: recovery of the worker with many entities in its tables (issue 18).

    python -m bench.recovery [--bootstrap HOST:PORT] [--tasks 100000] [--stores auto,memory]

For each table store (`auto`: RocksDB under the data dir; `memory`: rebuilt from the
changelogs at start):

1. fill: a worker folds `--tasks` open tasks (each the events of a generated task up to
   its end: new, parked, offered, connected, ...; times shifted to end now) from a raw
   topic of 4 partitions; printed: events/s and the worker's RSS with them all held;
2. restart: the worker is SIGKILLed and started again on the same data dir; right after
   the start, one fresh task per raw partition is published; printed: seconds from the
   start until every one of them is on the task projection topic (Faust recovering the
   tables from their changelogs, then the first batch);
3. join: a second worker starts in the same group; seconds until it reports partitions
   of its own on /readyz (the rebalance and its recovery of the tables it takes);
4. takeover: the first worker is SIGKILLed; seconds until marker tasks of every
   partition are visible again (the session timeout, the rebalance, the survivor's
   recovery of the dead worker's partitions).

Figures are printed; nothing is asserted. Bounded: each wait gives up after `--timeout`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.processor.run import (
    PARTITIONS,
    Record,
    Worker,
    broker,
    create_topic,
    produce,
    stream_records,
)
from wxcc_stream.base.partitioning import KeyPartitioner
from wxcc_stream.base.topic_log import partitions_of
from wxcc_stream.devtools.scenario import HOUR_MS, ScenarioConfig, generate
from wxcc_stream.schemas.cloudevent import entity_keys, parse_event
from wxcc_stream.schemas.event import EntityKind

Event = Mapping[str, Any]


def open_task_template() -> list[Event]:
    """The events of one generated task before its end, in order (new, parked, offered,
    connected, ...), the same for every cloned task."""
    scenario = generate(
        ScenarioConfig(seed=5, agents=10, teams=2, queues=2, duration_ms=4 * HOUR_MS, tasks=100)
    )
    by_task: dict[str, list[Event]] = {}
    for event in scenario.events:
        parsed = parse_event(event, received_at=0)
        for kind, entity in entity_keys(parsed):
            if kind is EntityKind.TASK:
                by_task.setdefault(entity, []).append(event)
    longest = max(
        by_task.values(), key=lambda events: sum(e["type"] != "task:ended" for e in events)
    )
    return [e for e in longest if e["type"] != "task:ended"][:8]


def clone_task(
    template: Sequence[Event], task_id: str, agent_id: str, shift_ms: int
) -> list[Event]:
    """The template's events for another task (handled by `agent_id`), `shift_ms` later."""
    out = []
    for n, event in enumerate(template):
        data = dict(event["data"])
        data["taskId"] = task_id
        if "agentId" in data:
            data["agentId"] = agent_id
        if "createdTime" in data:
            data["createdTime"] = int(data["createdTime"]) + shift_ms
        out.append({**event, "id": f"{task_id}-{n}", "data": data})
    return out


def records_of(events: Sequence[Event]) -> list[Record]:
    return [(str(e["data"]["taskId"]).encode(), orjson.dumps(e), e) for e in events]


def task_records(template: Sequence[Event], tasks: int, agents: int, prefix: str) -> list[Record]:
    """`tasks` open tasks spread over `agents` agents, their newest event a few seconds
    before now (inside the worker's horizon and grace)."""
    last = max(int(e["data"].get("createdTime", 0)) for e in template)
    shift = int(time.time() * 1000) - last - 5_000
    events: list[Event] = []
    for i in range(tasks):
        events += clone_task(template, f"{prefix}-{i:07d}", f"{prefix}-agent-{i % agents}", shift)
    return records_of(events)


def markers(template: Sequence[Event], label: str) -> tuple[list[Record], set[str]]:
    """One fresh task (its first event only) on each raw partition, timed now."""
    partitioner = KeyPartitioner()
    first = template[0]
    shift = int(time.time() * 1000) - int(first["data"].get("createdTime", 0))
    chosen: dict[int, str] = {}
    n = 0
    while len(chosen) < PARTITIONS:
        task_id = f"marker-{label}-{n}"
        chosen.setdefault(partitioner.partition_of(task_id.encode(), PARTITIONS), task_id)
        n += 1
    events = [clone_task([first], t, f"{t}-agent", shift)[0] for t in chosen.values()]
    return records_of(events), set(chosen.values())


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    parts = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(parts)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def wait_for_keys(
    bootstrap: str, topic: str, keys: set[str], since: Mapping[int, int], timeout_s: float
) -> None:
    """Until every key has a record on `topic` after the offsets `since`."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in since]
        consumer.assign(parts)
        for tp in parts:
            consumer.seek(tp, since[tp.partition])
        missing = set(keys)
        deadline = time.monotonic() + timeout_s
        while missing:
            if time.monotonic() > deadline:
                raise TimeoutError(f"not on {topic} after {timeout_s:.0f} s: {sorted(missing)}")
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                missing -= {r.key.decode() for r in records if r.key is not None}
    finally:
        await consumer.stop()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def kill(worker: Worker) -> None:
    os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait(timeout=30)
    worker.log.close()


async def one_store(
    bootstrap: str,
    tmp: Path,
    store: str,
    template: Sequence[Event],
    entities: tuple[int, int],
    timeout_s: float,
) -> dict[str, float]:
    tasks, agents = entities
    prefix = f"bench-rec-{store.rstrip(':/')}-{uuid.uuid4().hex[:6]}"
    raw, projection = f"{prefix}.raw", f"{prefix}.projection.task-lifecycle"
    settings = {"WXCC_WORKER_STORE": store}
    await create_topic(bootstrap, raw)
    records = task_records(template, tasks, agents, prefix)
    print(
        f"[{store}] publishing {len(records):,} raw events of {tasks:,} open tasks "
        f"({agents:,} agents) ...",
        flush=True,
    )
    await produce(bootstrap, raw, records)
    expected = stream_records(records)
    out: dict[str, float] = {"raw_events": len(records)}

    first = Worker(bootstrap, prefix, tmp / prefix / "w1", settings)
    started = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    while first.metrics().get("wxcc_worker_events_in_total", 0) < expected:
        if time.monotonic() > deadline or first.proc.poll() is not None:
            seen = first.metrics().get("wxcc_worker_events_in_total", 0)
            first.log.flush()
            text = first.log_path.read_text(errors="replace")
            tail = text[:2500] + "\n...\n" + text[-1500:]
            raise RuntimeError(
                f"[{store}] the fill did not finish ({seen:.0f} of {expected} stream events "
                f"in); the worker's log ends:\n{tail}"
            )
        await asyncio.sleep(0.2)
    out["fill_events_per_s"] = len(records) / (time.perf_counter() - started)
    out["worker_rss_mib"] = rss_mib(first.proc.pid)
    print(
        f"[{store}] filled: {out['fill_events_per_s']:,.0f} events/s, "
        f"RSS {out['worker_rss_mib']:,.0f} MiB",
        flush=True,
    )

    async def visible_after(label: str, start: float) -> float:
        since = await end_offsets(bootstrap, projection)
        batch, keys = markers(template, label)
        await produce(bootstrap, raw, batch)
        await wait_for_keys(bootstrap, projection, keys, since, timeout_s)
        return time.perf_counter() - start

    kill(first)
    started = time.perf_counter()
    first = Worker(bootstrap, prefix, tmp / prefix / "w1", settings)
    out["restart_s"] = await visible_after("restart", started)
    print(
        f"[{store}] SIGKILLed and restarted: processing again after {out['restart_s']:.1f} s",
        flush=True,
    )

    started = time.perf_counter()
    second = Worker(bootstrap, prefix, tmp / prefix / "w2", settings)
    try:
        # joined: the second worker owns partitions (and recovered their tables)
        await asyncio.to_thread(second.wait_ready, timeout_s)
        out["join_s"] = time.perf_counter() - started
        print(f"[{store}] a second worker joined: it owns partitions after {out['join_s']:.1f} s")
        kill(first)
        started = time.perf_counter()
        out["takeover_s"] = await visible_after("takeover", started)
        print(
            f"[{store}] first worker SIGKILLed: the second took over after "
            f"{out['takeover_s']:.1f} s",
            flush=True,
        )
    finally:
        second.stop()
        if first.proc.poll() is None:
            first.stop()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.recovery",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See the module docstring (bench/recovery/run.py) for what each figure means.",
    )
    parser.add_argument("--bootstrap", help="an existing broker (default: a private one)")
    parser.add_argument("--tasks", type=int, default=100_000, help="open tasks held (100000)")
    parser.add_argument(
        "--agents", type=int, default=10_000, help="agents the tasks are spread over (10000)"
    )
    parser.add_argument(
        "--stores",
        default="auto,memory://",
        help="table stores (WXCC_WORKER_STORE) to measure (auto,memory://)",
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds per wait (900)")
    args = parser.parse_args(argv)
    template = open_task_template()
    results: dict[str, dict[str, float]] = {}
    with (
        broker(args.bootstrap) as bootstrap,
        tempfile.TemporaryDirectory(prefix="bench-recovery-") as tmp,
    ):
        for store in args.stores.split(","):
            results[store] = asyncio.run(
                one_store(
                    bootstrap, Path(tmp), store, template, (args.tasks, args.agents), args.timeout
                )
            )
    print(
        f"\nworker recovery, {args.tasks:,} open tasks ({len(template)} events each) in its tables:"
    )
    print("| store | fill events/s | worker RSS MiB | SIGKILL + restart -> processing |", end="")
    print(" join | takeover |")
    print("|---|---|---|---|---|---|")
    for store, r in results.items():
        print(
            f"| {store} | {r['fill_events_per_s']:,.0f} | {r['worker_rss_mib']:,.0f} | "
            f"{r['restart_s']:.1f} s | {r['join_s']:.1f} s | {r['takeover_s']:.1f} s |"
        )
    return 0
