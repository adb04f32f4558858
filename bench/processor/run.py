"""Benchmark: the stream processor against a bare Faust pass-through agent, same run.

    python -m bench.processor [--bootstrap HOST:PORT] [--events 20000] [--rate 1000]
                              [--latency-seconds 25] [--agents 10000] [--tasks 100000]

1. a Kafka broker: `--bootstrap`, else a private one started from the official jars;
2. a raw topic (4 partitions) pre-filled with `--events` generated WxCC events (a day of
   50 agents / 2,000 tasks, shuffled, 10% duplicates), keyed like the ingress keys them;
3. events/s over that topic of (a) a plain aiokafka consumer, (b) a bare Faust agent that
   forwards each record (`bench/processor/passthrough.py`, same linger and batching), (c)
   the real worker (`wxcc-stream worker`: route, dedupe, reorder, fold, publish, table
   writes), each in a fresh consumer group; the ratio (c)/(b) (target >= 80%, issue 21;
   `--rounds N` repeats (b) and (c) on fresh topics and prints the median ratio,
   `--profile DIR` samples the last worker round with py-spy);
4. end-to-end latency at a steady `--rate` (target p99 < grace + 250 ms): events sent with
   their receive time, each released event read back from the ordered topics by a plain
   consumer (the projection of the same release is published in the same batch);
5. memory of the per-entity values: `--agents` logged-in agents with a 6-hour history and
   `--tasks` open tasks, built in this process with the pure core (tracemalloc, RSS, and
   the encoded bytes a memory-store table holds).

Each stage is bounded (about a minute at most). Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import os
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.bare_consumer import bare_consumer
from bench.profile import Profile, print_top
from wxcc_stream.devtools.broker import BrokerConfig, LocalBroker, ensure_jars
from wxcc_stream.devtools.broker.process import free_port
from wxcc_stream.devtools.scenario import HOUR_MS, DamageConfig, ScenarioConfig, damage, generate
from wxcc_stream.processors.core.log import EntityLog, new_log
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.step import accept_many, drain
from wxcc_stream.processors.storage.log_value import (
    decode_log,
    log_writes,
)
from wxcc_stream.schemas.cloudevent import entity_keys, parse_event
from wxcc_stream.schemas.event import EntityKind

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 4
TARGET_RATIO = 0.8
"""The worker's events/s against the bare pass-through's, in the same run (issue 21)."""
Record = tuple[bytes, bytes, Mapping[str, Any]]
T = TypeVar("T")
U = TypeVar("U")


@contextmanager
def broker(bootstrap: str | None) -> Iterator[str]:
    """The given broker, or a private one for this run."""
    if bootstrap:
        yield bootstrap
        return
    with tempfile.TemporaryDirectory(prefix="bench-processor-") as tmp:
        cfg = BrokerConfig("127.0.0.1", free_port(), free_port(), Path(tmp), heap_mb=512)
        local = LocalBroker(cfg, ensure_jars())
        print("starting a private Kafka broker ...", flush=True)
        local.start()
        try:
            yield local.bootstrap
        finally:
            local.stop()


def scenario_records(count: int, seed: int = 1) -> list[Record]:
    """`count` raw records of a damaged generated day (repeated days if needed)."""
    out: list[Record] = []
    day = 0
    while len(out) < count:
        scenario = generate(
            ScenarioConfig(
                seed=seed + day, agents=50, teams=5, queues=4, duration_ms=24 * HOUR_MS, tasks=2000
            )
        )
        delivery = damage(
            scenario.events,
            DamageConfig(seed=seed + day, shuffle_window_ms=5000, duplicate_fraction=0.1),
        )
        for _, event in delivery.deliveries:
            parsed = parse_event(event, received_at=0)
            out.append((parsed.entity_id.encode(), orjson.dumps(event), event))
        day += 1
    return out[:count]


def stream_records(records: Sequence[Record]) -> int:
    """How many per-entity stream records the router makes of these raw records."""
    return sum(len(entity_keys(parse_event(e, received_at=0))) for _, _, e in records)


async def create_topic(bootstrap: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()


async def produce(
    bootstrap: str, topic: str, records: Sequence[Record], rate: float | None = None
) -> None:
    """Publish like the ingress (idempotent, acks=all), optionally at a steady rate."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        pending = []
        for i, (key, body, event) in enumerate(records):
            headers = [
                ("ce_id", str(event["id"]).encode()),
                ("ce_type", str(event["type"]).encode()),
                ("ce_source", str(event["source"]).encode()),
                ("received_at", str(int(time.time() * 1000)).encode()),
            ]
            pending.append(await producer.send(topic, body, key=key, headers=headers))
            if rate:
                ahead = start + (i + 1) / rate - loop.time()
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def passthrough_rate(bootstrap: str, topic: str, count: int) -> float:
    """Events/s of the bare Faust pass-through agent (in its own process)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.processor.passthrough", bootstrap, topic, str(count)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    for line in (proc.stdout + proc.stderr).splitlines():
        if '{"first":' in line:
            doc = orjson.loads(line[line.index("{") :].strip())
            return float(doc["count"]) / float(doc["last"] - doc["first"])
    raise RuntimeError(f"pass-through gave no result:\n{proc.stdout}\n{proc.stderr[-3000:]}")


def worker_environment() -> dict[str, str]:
    """The `WXCC_WORKER_*` settings of this environment: the worker gets them (the bench's
    own data dir and web port win), the other `WXCC_*` ones point elsewhere and are left."""
    own = ("WXCC_WORKER_DATA_DIR", "WXCC_WORKER_WEB_PORT")
    return {k: v for k, v in os.environ.items() if k.startswith("WXCC_WORKER_") and k not in own}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXCC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


class Worker:
    """`wxcc-stream worker` in its own process, watched through /metrics."""

    def __init__(
        self, bootstrap: str, prefix: str, data_dir: Path, settings: Mapping[str, str] = {}
    ) -> None:
        self.port = free_port()
        env = _env(
            **{**worker_environment(), **settings},
            WXCC_KAFKA_BOOTSTRAP=bootstrap, WXCC_TOPIC_PREFIX=prefix,
            WXCC_TOPIC_PARTITIONS=str(PARTITIONS), WXCC_WORKER_DATA_DIR=str(data_dir),
            WXCC_WORKER_WEB_PORT=str(self.port), WXCC_LOG_LEVEL="WARNING",
        )  # fmt: skip
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir.parent / f"{prefix}.log"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wxcc_stream.cli", "worker"], cwd=ROOT, env=env,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def metrics(self) -> dict[str, float]:
        """Samples of /metrics summed over labels (e.g. events_in_total of both streams)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return {}
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                head, _, value = line.rpartition(" ")
                out[head] = float(value)
                name = head.partition("{")[0]
                if name != head:
                    out[name] = out.get(name, 0.0) + float(value)
        return out

    def wait_ready(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                    if orjson.loads(r.read()).get("partitions"):
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.log.flush()
        tail = self.log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"worker not ready after {timeout_s:.0f} s; its log ends:\n{tail}")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def real_rate(
    bootstrap: str,
    prefix: str,
    tmp: Path,
    count: int,
    expected_stream: int,
    profile: Path | None = None,
    settings: Mapping[str, str] = {},
) -> tuple[float, float]:
    """(events/s, worker CPU ms per raw event) of the real worker over the pre-filled topic;
    with `profile`, py-spy samples the worker while it works and writes there."""
    worker = Worker(bootstrap, prefix, tmp / "throughput" / prefix, settings)
    spy: Profile | None = None
    try:
        first = 0.0
        cpu0 = 0.0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            m = worker.metrics()
            if not first and m.get("wxcc_worker_raw_routed_total", 0) > 0:
                first, cpu0 = time.perf_counter(), worker.cpu_s()
                spy = Profile(worker.proc.pid, profile) if profile else None
            if m.get("wxcc_worker_events_in_total", 0) >= expected_stream:
                elapsed = time.perf_counter() - first
                return count / elapsed, (worker.cpu_s() - cpu0) * 1000 / count
            time.sleep(0.05)
        raise RuntimeError("the worker did not finish in time")
    finally:
        if spy is not None:
            spy.stop()
        worker.stop()


async def latency(
    bootstrap: str, prefix: str, tmp: Path, records: Sequence[Record], rate: float
) -> dict[str, float]:
    """Receive -> visible on the ordered topics, for events sent at a steady rate."""
    worker = Worker(bootstrap, prefix, tmp / "latency")
    try:
        await asyncio.to_thread(worker.wait_ready)
        consumer = AIOKafkaConsumer(
            f"{prefix}.agent-events.ordered", f"{prefix}.task-events.ordered",
            bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
            metadata_max_age_ms=500,
        )  # fmt: skip
        await consumer.start()
        samples: list[float] = []
        done = asyncio.Event()

        async def read() -> None:
            quiet_until = None
            while True:
                batch = await consumer.getmany(timeout_ms=100)
                now = time.time() * 1000
                for rs in batch.values():
                    for r in rs:
                        doc = orjson.loads(r.value)
                        if not doc["late"] and doc.get("receivedAt"):
                            samples.append(now - doc["receivedAt"])
                if done.is_set():
                    quiet_until = quiet_until or time.monotonic() + 8
                    if time.monotonic() > quiet_until:
                        return

        reader = asyncio.create_task(read())
        try:
            await produce(bootstrap, f"{prefix}.raw", records, rate=rate)
        finally:
            done.set()
            await reader
            await consumer.stop()
        metrics = worker.metrics()
    finally:
        worker.stop()
    samples.sort()

    def pct(p: float) -> float:
        return samples[min(len(samples) - 1, int(p * len(samples)))] if samples else float("nan")

    return {
        "count": len(samples),
        "p50": pct(0.50),
        "p99": pct(0.99),
        "max": samples[-1] if samples else float("nan"),
        "worker_p99_bucket": _bucket_quantile(metrics, 0.99),
    }


def _bucket_quantile(metrics: Mapping[str, float], q: float) -> float:
    """Upper bound (ms) of the histogram bucket holding quantile q, both streams summed."""
    buckets: dict[float, float] = {}
    for key, value in metrics.items():
        if key.startswith("wxcc_worker_end_to_end_latency_seconds_bucket{"):
            le = key.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + value
    if not buckets:
        return float("nan")
    total = buckets[max(buckets)]
    for bound in sorted(buckets):
        if buckets[bound] >= q * total:
            return bound * 1000
    return float("inf")


def _clone(event: Mapping[str, Any], n: int, field: str, new_id: str) -> dict[str, Any]:
    data = dict(event["data"])
    data[field] = new_id
    return {**event, "id": f"{event['id']}-{n}", "data": data}


def memory(agents: int, tasks: int) -> dict[str, float]:
    """Bytes per entity: decoded logs (tracemalloc, RSS) and encoded table values."""
    policy = Policy()
    scenario = generate(
        ScenarioConfig(seed=3, agents=20, teams=2, queues=3, duration_ms=6 * HOUR_MS, tasks=400)
    )
    parsed = [(e, parse_event(e, received_at=0)) for e in scenario.events]
    agent_id = next(iter(scenario.agent_truth))
    agent_events = [
        e for e, p in parsed if p.entity_kind is EntityKind.AGENT and p.entity_id == agent_id
    ]
    # an open task: everything before its first task:ended (new, parked, connect, connected, ...)
    task_id = next(iter(scenario.task_truth))
    task_events = []
    for e, p in parsed:
        if any(k == (EntityKind.TASK, task_id) for k in entity_keys(p)):
            if e["type"] == "task:ended":
                break
            task_events.append(e)

    def build(
        kind: EntityKind, template: Sequence[Mapping[str, Any]], field: str, n: int
    ) -> list[EntityLog]:
        logs = []
        for i in range(n):
            eid = f"{kind.value}-{i:07d}"
            events = [parse_event(_clone(e, i, field, eid), received_at=0) for e in template]
            log, _ = accept_many(new_log(kind, eid), events, now_ms=0, policy=policy)
            logs.append(drain(log, policy=policy)[0])
        return logs

    out: dict[str, float] = {"agent_events": len(agent_events), "task_events": len(task_events)}
    for kind, template, field, n in (
        (EntityKind.AGENT, agent_events, "agentId", agents),
        (EntityKind.TASK, task_events, "taskId", tasks),
    ):
        # RSS first, of the whole set, from memory handed back to the system (what a
        # previous measure freed would otherwise be reused unseen)
        gc.collect()
        _trim()
        rss0 = _rss()
        logs = build(kind, template, field, n)
        gc.collect()
        rss1 = _rss()
        # the table holds the encoded values (a head and its sealed chunks): their length,
        # and what holding them costs
        values = [_stored(log) for log in logs]
        gc.collect()
        rss2 = _rss()
        out[f"{kind.value}_rss_bytes"] = (rss1 - rss0) / n
        out[f"{kind.value}_rss_total_mib"] = (rss1 - rss0) / 2**20
        out[f"{kind.value}_encoded_bytes"] = sum(_stored_bytes(v) for v in values) / n
        out[f"{kind.value}_encoded_rss_bytes"] = (rss2 - rss1) / n
        # tracemalloc slows allocation a lot: it measures a sample, of logs built by the
        # core (as the worker's cache holds them), of logs decoded from table values (after
        # a cache miss or a restart) and of the values themselves
        del logs
        sample = min(n, 2000)
        made, traced = _traced(build, kind, template, field, sample)
        decoded, decoded_traced = _traced(_each, _decode_stored, values[:sample])
        encoded, encoded_traced = _traced(_each, _stored, made)
        out[f"{kind.value}_traced_bytes"] = traced / sample
        out[f"{kind.value}_decoded_traced_bytes"] = decoded_traced / sample
        out[f"{kind.value}_encoded_traced_bytes"] = encoded_traced / sample
        del values, made, decoded, encoded
        gc.collect()
    return out


def _traced(make: Callable[..., T], *args: Any) -> tuple[T, int]:
    """`make(*args)` and the bytes it allocated and still holds (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        made = make(*args)
        gc.collect()
        traced, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return made, traced


def _stored(log: EntityLog) -> dict[bytes, bytes]:
    """What a table holds of `log`: its head under its id, its sealed chunks under theirs."""
    key = log.entity_id.encode()
    return {k: v for k, v in log_writes(key, log, whole=True) if v is not None}


def _stored_bytes(stored: Mapping[bytes, bytes]) -> int:
    return sum(map(len, stored.values()))


def _decode_stored(stored: Mapping[bytes, bytes]) -> EntityLog:
    key = next(k for k in stored if not k.startswith(b"\x00"))
    return decode_log(stored[key], stored.get)


def _each(function: Callable[[U], T], items: Sequence[U]) -> list[T]:
    return [function(item) for item in items]


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _trim() -> None:
    """Hand freed heap memory back to the system (glibc), so RSS deltas count new memory."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _print_memory(agents: int, tasks: int) -> None:
    print(f"memory: {agents} agents and {tasks} open tasks ...", flush=True)
    mem = memory(agents, tasks)
    for kind, n in (("agent", agents), ("task", tasks)):
        events, total = mem[f"{kind}_events"], mem[f"{kind}_rss_total_mib"]
        each, traced = mem[f"{kind}_rss_bytes"], mem[f"{kind}_traced_bytes"]
        decoded = mem[f"{kind}_decoded_traced_bytes"]
        encoded, encoded_rss = mem[f"{kind}_encoded_bytes"], mem[f"{kind}_encoded_rss_bytes"]
        encoded_traced = mem[f"{kind}_encoded_traced_bytes"]
        print(
            f"    {n} {kind}s ({events:.0f} events each): RSS {total:.0f} MiB "
            f"({each:.0f} B each; traced {traced:.0f} B, decoded from the table {decoded:.0f} B)"
            f", table value {encoded:.0f} B each (held: RSS {encoded_rss:.0f} B, "
            f"traced {encoded_traced:.0f} B)",
            flush=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.processor", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument(
        "--events", type=int, default=20000, help="raw events for the throughput runs"
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s for the latency run")
    parser.add_argument(
        "--sustainable-rate", type=float, default=400.0,
        help="a second latency run at this rate (0: skip), below the measured throughput",
    )  # fmt: skip
    parser.add_argument(
        "--latency-seconds", type=float, default=25.0, help="length of the latency run"
    )
    parser.add_argument("--agents", type=int, default=10000, help="agents for the memory figure")
    parser.add_argument(
        "--tasks", type=int, default=100000, help="open tasks for the memory figure"
    )
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="throughput rounds (pass-through then worker, each in a fresh group); the "
        "median ratio is printed",
    )  # fmt: skip
    parser.add_argument(
        "--worker-setting", action="append", default=[], metavar="WXCC_NAME=VALUE",
        help="a setting for the worker in the throughput rounds (repeatable), to measure a "
        "lever; WXCC_WORKER_* variables of the environment reach every worker too",
    )  # fmt: skip
    parser.add_argument(
        "--throughput-only", action="store_true", help="skip the latency and memory runs"
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR",
        help="py-spy the worker's last throughput round; collapsed stacks written to DIR",
    )  # fmt: skip
    parser.add_argument("--memory-only", action="store_true", help="only the memory figures")
    args = parser.parse_args(argv)

    if args.memory_only:
        _print_memory(args.agents, args.tasks)
        return 0
    settings = dict(item.split("=", 1) for item in args.worker_setting)
    inherited = worker_environment()
    if inherited or settings:
        told = ", ".join(f"{k}={v}" for k, v in sorted({**inherited, **settings}.items()))
        print(f"worker settings (environment, then --worker-setting): {told}", flush=True)
    records = scenario_records(args.events)
    expected = stream_records(records)
    grace = Policy().grace_ms
    with broker(args.bootstrap) as bootstrap, tempfile.TemporaryDirectory(prefix="bench-w-") as tmp:
        ratios = []
        for n in range(1, args.rounds + 1):
            # each round its own topics: a worker in a fresh group would also read the
            # hop records an earlier round's worker left in the per-entity streams
            prefix = f"bench{uuid.uuid4().hex[:8]}"
            raw = f"{prefix}.raw"
            asyncio.run(create_topic(bootstrap, raw))
            print(
                f"round {n}: pre-filling {raw} with {len(records)} events "
                f"({expected} per-entity records) ...",
                flush=True,
            )
            asyncio.run(produce(bootstrap, raw, records))
            if n == 1:
                raw_rate, _ = asyncio.run(bare_consumer(bootstrap, raw, len(records)))
                print(f"(a) plain aiokafka consumer:     {raw_rate:10.0f} events/s", flush=True)
            last = n == args.rounds
            base = passthrough_rate(bootstrap, raw, len(records))
            print(f"(b) bare Faust pass-through:     {base:10.0f} events/s", flush=True)
            profile = args.profile / "worker.txt" if args.profile and last else None
            if profile:
                profile.parent.mkdir(parents=True, exist_ok=True)
            real, cpu_ms = real_rate(
                bootstrap, prefix, Path(tmp), len(records), expected, profile, settings
            )
            print(f"(c) wxcc-stream worker:          {real:10.0f} events/s", flush=True)
            print(f"    worker CPU per raw event: {cpu_ms * 1000:.0f} us", flush=True)
            ratios.append(real / base)
            print(f"    real / pass-through = {real / base:.0%} (round {n})", flush=True)
            if profile:
                print_top(profile, "worker throughput")
        ratio = sorted(ratios)[len(ratios) // 2]
        verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
        print(
            f"    median real / pass-through over {len(ratios)} round(s) = {ratio:.0%} "
            f"({verdict} the {TARGET_RATIO:.0%} target)",
            flush=True,
        )
        if args.throughput_only:
            return 0

        grace_target = grace + 250
        for rate in (args.rate, args.sustainable_rate):
            if rate <= 0:
                continue
            count = int(rate * args.latency_seconds)
            paced = scenario_records(count, seed=101)
            lat_prefix = f"bench{uuid.uuid4().hex[:8]}"
            asyncio.run(create_topic(bootstrap, f"{lat_prefix}.raw"))
            print(f"latency: {count} events at {rate:.0f}/s ...", flush=True)
            lat = asyncio.run(latency(bootstrap, lat_prefix, Path(tmp) / lat_prefix, paced, rate))
            verdict = "meets" if lat["p99"] < grace_target else "MISSES"
            print(
                f"    receive -> ordered topic: p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms, "
                f"max {lat['max']:.0f} ms over {lat['count']:.0f} events ({verdict} p99 < "
                f"{grace_target} ms); worker histogram p99 <= {lat['worker_p99_bucket']:.0f} ms",
                flush=True,
            )
    if not args.skip_memory:
        _print_memory(args.agents, args.tasks)
    return 0
