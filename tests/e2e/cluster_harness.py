"""Failover under traffic on a real 3-node cluster: a WxCC-like sender that retries what is
refused, node faults at chosen moments, and the checks every failover test makes."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiokafka.admin import AIOKafkaAdminClient

from tests.e2e.harness import ProjectionReader, WorkerProcess, describe_difference, read_topic
from wxcc_stream.devtools.broker import LocalCluster
from wxcc_stream.devtools.simulator import SigningKeys
from wxcc_stream.devtools.simulator.prepare import prepare

# WxCC retries an unanswered or refused delivery; the sender does the same, after this long
RETRY_AFTER_S = 1.0
# a client that waits longer than this for an answer counts it as none (status 0): the
# ingress answers within its publish deadline (2 s) whatever Kafka does; the margin is for
# five JVMs, the ingress, the worker and this sender sharing 2 loaded cores
ANSWER_TIMEOUT_S = 10.0


@dataclass
class Fault:
    """A moment of a schedule: what was done and when (seconds since the traffic began)."""

    at: float
    what: str


@dataclass
class Traffic:
    """What the ingress answered: every attempt's status and when (since the start)."""

    started: float = field(default_factory=time.monotonic)
    answers: list[tuple[float, int]] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    unsent: list[str] = field(default_factory=list)
    slowest_s: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    # (seconds since the start, seconds the answer took) per attempt, for latency over time
    latencies: list[tuple[float, float]] = field(default_factory=list)
    # (seconds since the start, seconds the answer took) per attempt, for latency over time
    latencies: list[tuple[float, float]] = field(default_factory=list)

    @property
    def by_status(self) -> Counter[int]:
        return Counter(status for _, status in self.answers)

    def refusals(self) -> list[float]:
        """When each non-2xx answer came (seconds since the start)."""
        return [at for at, status in self.answers if not 200 <= status < 300]


async def send_with_retries(
    target: str,
    events: Sequence[Mapping[str, Any]],
    keys: SigningKeys,
    traffic: Traffic,
    *,
    rate: Callable[[], float | None],
    concurrency: int = 8,
    give_up_s: float = 240.0,
) -> None:
    """POST each event in order at `rate()` events/s (None: as fast as it goes) and, like
    WxCC, retry a refused or unanswered one until accepted or `give_up_s` has passed."""
    semaphore = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=ANSWER_TIMEOUT_S)

    async def deliver(session: aiohttp.ClientSession, event: Mapping[str, Any]) -> None:
        deadline = time.monotonic() + give_up_s
        try:
            while time.monotonic() < deadline:
                request = prepare(event, keys, now_ms=time.time_ns() // 1_000_000)
                asked = time.monotonic()
                try:
                    async with session.post(
                        target, data=request.body, headers=dict(request.headers)
                    ) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError, OSError):
                    status = 0
                now = time.monotonic()
                traffic.slowest_s = max(traffic.slowest_s, now - asked)
                traffic.answers.append((now - traffic.started, status))
                traffic.latencies.append((now - traffic.started, now - asked))
                traffic.latencies.append((now - traffic.started, now - asked))
                if 200 <= status < 300:
                    traffic.accepted.add(request.event_id)
                    return
                await asyncio.sleep(RETRY_AFTER_S)
            traffic.unsent.append(str(event.get("id")))
        finally:
            semaphore.release()

    async with aiohttp.ClientSession(timeout=timeout) as session:
        tasks = []
        next_at = time.monotonic()
        for event in events:
            pace = rate()
            if pace:
                next_at += 1 / pace
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            else:
                next_at = time.monotonic()
            await semaphore.acquire()
            tasks.append(asyncio.create_task(deliver(session, event)))
        await asyncio.gather(*tasks)


async def partition_leaders(bootstrap: str, topic: str) -> dict[int, tuple[int, list[int]]]:
    """partition -> (leader, in-sync replicas), once every partition has a leader."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for _ in range(150):  # a node that just (re)joined may not know the topic yet
            (described,) = await admin.describe_topics([topic])
            parts = described.get("partitions") or []
            if parts and all(p["leader"] >= 0 for p in parts):
                return {p["partition"]: (p["leader"], sorted(p["isr"])) for p in parts}
            await asyncio.sleep(0.2)
        raise AssertionError(f"no leaders for {topic}: {described}")
    finally:
        await admin.close()


async def active_controller(bootstrap: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return int((await admin.describe_cluster())["controller_id"])
    finally:
        await admin.close()


async def restart_node(cluster: LocalCluster, node_id: int, timeout_s: float = 120.0) -> None:
    """Start a node again without blocking the event loop (which the sender shares) for its
    storage check or its start; the JVM itself is spawned from the main thread, so that it
    still dies with the test process."""
    node = cluster.node(node_id)
    await asyncio.to_thread(node.prepare)
    offset = node.spawn()
    await asyncio.to_thread(node.wait_started, offset, timeout_s)


async def until_in_sync(
    bootstrap: str, topics: Sequence[str], nodes: int, timeout_s: float
) -> None:
    """Until every partition of the topics has all `nodes` replicas in sync again."""
    deadline = time.monotonic() + timeout_s
    while True:
        isrs = [
            isr
            for topic in topics
            for _, isr in (await partition_leaders(bootstrap, topic)).values()
        ]
        if all(len(isr) == nodes for isr in isrs):
            return
        assert time.monotonic() < deadline, f"replicas not back in sync: {isrs}"
        await asyncio.sleep(0.5)


def lagging(worker: WorkerProcess, topic: str) -> dict[str, float]:
    """Partitions of `topic` the worker owns with records it has not processed yet, and how
    many. (The raw topic: the per-entity streams also carry the worker's own tick records,
    and one left last in a partition shows there as a lag of 1 after the traffic stops.)"""
    _, body = worker.get("/metrics")
    samples = (
        line.rpartition(" ")
        for line in body.decode().splitlines()
        if line.startswith("wxcc_worker_partition_lag{") and f'topic="{topic}"' in line
    )
    return {labels: float(value) for labels, _, value in samples if float(value)}


async def until_caught_up(worker: WorkerProcess, timeout_s: float) -> float:
    """Until the worker's lag on the raw topic is zero; how long that took."""
    started = time.monotonic()
    while True:
        worker.assert_running()
        behind = lagging(worker, worker.settings.topic.raw)
        if not behind:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout_s, f"worker lag: {behind}"
        await asyncio.sleep(0.5)


async def run_faults(
    traffic: Traffic, steps: Sequence[tuple[float, str, Callable[[], Awaitable[None]]]]
) -> list[Fault]:
    """Run each step once the traffic is `delay` seconds older than the previous step."""
    done = []
    for delay, what, step in steps:
        await asyncio.sleep(delay)
        done.append(Fault(time.monotonic() - traffic.started, what))
        await step()
    return done


async def check_outcome(
    traffic: Traffic,
    *,
    bootstrap: str,
    raw_topic: str,
    truth: Mapping[str, Mapping[str, Mapping[str, Any]]],
    worker: WorkerProcess,
    window_s: float,
) -> None:
    """What every failover test asserts: only 2xx and 503 answers, the 503s inside a fault's
    window, every accepted event in the raw topic, and projections equal to the truth."""
    faults = traffic.faults
    print(f"answers {dict(traffic.by_status)}, slowest {traffic.slowest_s:.1f} s, faults "
          + ", ".join(f"{f.what} at {f.at:.1f} s" for f in faults))  # fmt: skip
    refused = traffic.refusals()
    if refused:
        print(f"refusals from {min(refused):.1f} s to {max(refused):.1f} s")
    assert set(traffic.by_status) <= {202, 503}, traffic.by_status
    assert not traffic.unsent, f"{len(traffic.unsent)} events never accepted"
    unexplained = [at for at in refused if not any(0 <= at - f.at <= window_s for f in faults)]
    assert not unexplained, f"503s outside every fault's {window_s} s window: {unexplained[:5]}"
    stored = {
        dict(r.headers).get("ce_id", b"").decode()
        for r in await read_topic(bootstrap, raw_topic, idle_s=3.0, timeout_s=120.0)
    }
    lost = traffic.accepted - stored
    assert not lost, f"{len(lost)} accepted events are not in {raw_topic}: {sorted(lost)[:5]}"
    async with ProjectionReader(bootstrap, list(truth)) as reader:
        done = await reader.wait_for(truth, timeout_s=180)
        report = "\n".join(
            f"{topic}: {describe_difference(reader.docs[topic], want)}"
            for topic, want in truth.items()
        )
    worker.assert_running()
    assert done, f"projections differ from the ground truth:\n{report}\n{worker.log_tail(30)}"
