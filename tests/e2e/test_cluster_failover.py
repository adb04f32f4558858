"""Failover under traffic (issue 20 §2): a real 3-node cluster (replication factor 3, min ISR
2), a real ingress and worker, and signed webhooks sent as WxCC does (a refused delivery is
retried). Nodes are SIGKILLed or restarted while the traffic runs; each test then checks
that the ingress answered only 202 or 503 (the 503s within a window after a fault), that
every accepted event is in the raw topic, and that the projections equal the generator's
truth. Bounded: the traffic lasts `soak_seconds` / 2 (at least a test's minimum), then
goes as fast as it can once the faults are done."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from tests.e2e.cluster_harness import (
    Traffic,
    check_outcome,
    partition_leaders,
    restart_node,
    run_faults,
    send_with_retries,
    until_caught_up,
    until_in_sync,
)
from tests.e2e.harness import WorkerProcess
from tests.e2e.test_pipeline_ingress import FAST, SECRET, _ingress
from wxcc_stream.base.settings import Settings, load_settings, with_overrides
from wxcc_stream.devtools.broker import LocalCluster
from wxcc_stream.devtools.scenario import DEFAULT_SUBSCRIPTION_ID, HOUR_MS, ScenarioConfig, generate
from wxcc_stream.devtools.simulator import SigningKeys

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(900)]

Step = tuple[float, str, Callable[[], Awaitable[None]]]
# the ingress may answer 503 for this long after a fault: fencing the dead node (2 s
# session), electing leaders and shrinking the ISR, under the load of five JVMs on 2 cores
WINDOW_S = 30.0


def _settings(cluster: LocalCluster, prefix: str) -> Settings:
    base = load_settings({})
    return with_overrides(
        base,
        kafka=with_overrides(base.kafka, bootstrap=cluster.bootstrap),
        topic=with_overrides(
            base.topic, prefix=prefix, replication_factor=3, min_insync_replicas=2
        ),
    )


def active_controller(cluster: LocalCluster) -> int:
    """The KRaft quorum's leader, from the nodes' logs (a client's metadata names a random
    broker as "controller" on KRaft): the leader of the highest epoch any node logged."""
    best = (-1, -1)
    for node in cluster.nodes.values():
        text = node.server_log.read_text(errors="replace")
        for epoch, leader in re.findall(r"In the new epoch (\d+), the leader is (\d+)\.", text):
            best = max(best, (int(epoch), int(leader)))
    assert best[1] > 0, "no controller elected"
    return best[1]


async def _run(
    cluster: LocalCluster,
    tmp_path: Path,
    topic_prefix: str,
    traffic_s: float,
    faults: Callable[[Settings, WorkerProcess], Sequence[Step]],
    *,
    window_s: float = WINDOW_S,
) -> Traffic:
    settings = _settings(cluster, topic_prefix)
    scenario = generate(
        ScenarioConfig(seed=20, agents=10, teams=2, queues=2, duration_ms=8 * HOUR_MS, tasks=150)
    )
    events = scenario.events
    truth = {
        settings.topic.agent_state: scenario.agent_truth,
        settings.topic.task_lifecycle: scenario.task_truth,
    }
    keys = SigningKeys(by_subscription={DEFAULT_SUBSCRIPTION_ID: SECRET.encode()})
    worker = WorkerProcess(settings, tmp_path / "w", overrides=FAST).start()
    try:
        await worker.wait_ready(timeout_s=180)
        async with _ingress(settings, tmp_path / "ingress.log") as target:
            traffic = Traffic()
            pace = len(events) / traffic_s
            schedule = asyncio.create_task(run_faults(traffic, faults(settings, worker)))
            # paced while faults are due, then as fast as it goes
            await send_with_retries(
                target, events, keys, traffic, rate=lambda: None if schedule.done() else pace
            )
            traffic.faults = await schedule
            last = traffic.faults[-1]
            assert traffic.answers[-1][0] > last.at, "traffic ended before the last fault"
        await check_outcome(
            traffic, bootstrap=settings.kafka.bootstrap, raw_topic=settings.topic.raw,
            truth=truth, worker=worker, window_s=window_s,
        )  # fmt: skip
        print(f"worker caught up {await until_caught_up(worker, 120):.1f} s after the checks")
        return traffic
    finally:
        worker.stop()


def _traffic_s(soak_seconds: float, at_least: float) -> float:
    return max(at_least, soak_seconds / 2)


async def _one_node_killed(
    cluster: LocalCluster,
    tmp_path: Path,
    topic_prefix: str,
    soak_seconds: float,
    what: str,
    choose: Callable[[Settings], Awaitable[int]],
) -> None:
    """SIGKILL the node `choose` names a quarter into the traffic; it stays down."""
    traffic_s = _traffic_s(soak_seconds, 30)

    def faults(settings: Settings, worker: WorkerProcess) -> list[Step]:
        async def kill() -> None:
            node_id = await choose(settings)
            cluster.kill(node_id)
            print(f"killed node {node_id}, {what}")

        async def still_serving() -> None:
            worker.assert_running()

        return [(traffic_s / 4, f"{what} SIGKILLed", kill),
                (traffic_s / 2, "traffic continues", still_serving)]  # fmt: skip

    await _run(cluster, tmp_path, topic_prefix, traffic_s, faults)


async def test_raw_partition_leader_sigkilled_under_traffic(
    kafka_cluster: LocalCluster, tmp_path: Path, topic_prefix: str, soak_seconds: float
) -> None:
    async def leader(settings: Settings) -> int:
        return (await partition_leaders(settings.kafka.bootstrap, settings.topic.raw))[0][0]

    await _one_node_killed(
        kafka_cluster, tmp_path, topic_prefix, soak_seconds, "the leader of raw[0]", leader
    )


async def test_active_controller_sigkilled_under_traffic(
    kafka_cluster: LocalCluster, tmp_path: Path, topic_prefix: str, soak_seconds: float
) -> None:
    async def controller(settings: Settings) -> int:
        return active_controller(kafka_cluster)

    await _one_node_killed(
        kafka_cluster, tmp_path, topic_prefix, soak_seconds, "the active controller", controller
    )


async def test_rolling_restart_of_all_three_under_traffic(
    kafka_cluster: LocalCluster, tmp_path: Path, topic_prefix: str, soak_seconds: float
) -> None:
    traffic_s = _traffic_s(soak_seconds, 90)

    def faults(settings: Settings, worker: WorkerProcess) -> list[Step]:
        bootstrap = settings.kafka.bootstrap
        topics = [settings.topic.raw, settings.topic.agent_state, settings.topic.task_lifecycle]

        def restart(node_id: int) -> Callable[[], Awaitable[None]]:
            async def step() -> None:
                started = time.monotonic()
                # controlled shutdown, as an operator does (off the loop: it waits)
                await asyncio.to_thread(kafka_cluster.stop_node, node_id)
                await restart_node(kafka_cluster, node_id)
                # the next node goes only once this one is back in every ISR
                await until_in_sync(bootstrap, topics, nodes=3, timeout_s=120)
                lag_s = await until_caught_up(worker, 120)
                took = time.monotonic() - started
                print(f"node {node_id} back in sync after {took:.1f} s, lag 0 {lag_s:.1f} s later")

            return step

        return [(traffic_s / 8, f"node {n} restarted", restart(n)) for n in (1, 2, 3)]

    await _run(kafka_cluster, tmp_path, topic_prefix, traffic_s, faults)


async def test_two_nodes_down_refuses_then_resumes_with_nothing_lost(
    kafka_cluster: LocalCluster, tmp_path: Path, topic_prefix: str, soak_seconds: float
) -> None:
    traffic_s = _traffic_s(soak_seconds, 45)

    def faults(settings: Settings, worker: WorkerProcess) -> list[Step]:
        down: list[int] = []

        async def two_down() -> None:
            leaders = await partition_leaders(settings.kafka.bootstrap, settings.topic.raw)
            keep = leaders[0][0]
            down.extend(n for n in kafka_cluster.nodes if n != keep)
            for node_id in down:
                kafka_cluster.kill(node_id)
            print(f"killed nodes {down}: one replica left, below min ISR 2")

        async def one_back() -> None:
            await restart_node(kafka_cluster, down[0])

        async def both_back() -> None:
            await restart_node(kafka_cluster, down[1])

        return [(traffic_s / 4, "two nodes SIGKILLed", two_down),
                (traffic_s / 4, "one node back", one_back),
                (traffic_s / 8, "both back", both_back)]  # fmt: skip

    traffic = await _run(
        kafka_cluster, tmp_path, topic_prefix, traffic_s, faults, window_s=traffic_s
    )
    down, back = traffic.faults[0].at, traffic.faults[1].at
    # in flight at the kill may still be acknowledged; after that nothing until a node is back
    assert [a for a, s in traffic.answers if down + 5 < a < back and s == 202] == []
    assert [a for a, s in traffic.answers if down < a < back and s == 503], "no refusal seen"
