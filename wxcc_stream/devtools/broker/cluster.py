"""A local Kafka cluster: several KRaft broker+controller nodes started and stopped as one,
with single nodes killed and restarted by id for failover tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from aiokafka.admin import AIOKafkaAdminClient

from wxcc_stream.devtools.broker.config import BrokerConfig
from wxcc_stream.devtools.broker.process import BrokerError, LocalBroker, new_cluster_id


class LocalCluster:
    """Nodes of one cluster (one cluster id, one quorum), each its own JVM, dir and log."""

    def __init__(self, configs: Sequence[BrokerConfig], jars_dir: Path) -> None:
        if not configs:
            raise BrokerError("a cluster needs at least one node")
        self.nodes = {cfg.node_id: LocalBroker(cfg, jars_dir) for cfg in configs}

    @property
    def bootstrap(self) -> str:
        """Every node's client address, comma-separated (a client needs only one alive)."""
        return ",".join(node.bootstrap for node in self.nodes.values())

    def node(self, node_id: int) -> LocalBroker:
        return self.nodes[node_id]

    def _share_cluster_id(self) -> None:
        """Every node formatted with the same cluster id (the first run's, if any)."""
        files = [n.config.data_dir / "cluster.id" for n in self.nodes.values()]
        known = next((f.read_text().strip() for f in files if f.exists()), None)
        cluster_id = known or new_cluster_id()
        for f in files:
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(cluster_id)

    def start(self, timeout_s: float = 120.0) -> None:
        """Launch every node, then wait for each: a quorum elects only with a majority up."""
        self._share_cluster_id()
        offsets = {}
        try:
            for node_id, node in self.nodes.items():
                offsets[node_id] = node.launch()
            deadline = time.monotonic() + timeout_s
            for node_id, offset in offsets.items():
                self.nodes[node_id].wait_started(offset, max(1.0, deadline - time.monotonic()))
            # started is not registered: a topic created before every node has joined gets
            # fewer replicas than the cluster has nodes
            asyncio.run(self._until_registered(deadline))
        except BaseException:
            self.kill_all()
            raise

    async def _until_registered(self, deadline: float) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            while True:
                brokers = (await admin.describe_cluster()).get("brokers") or []
                if len(brokers) >= len(self.nodes):
                    return
                if time.monotonic() > deadline:
                    raise BrokerError(f"only {len(brokers)} of {len(self.nodes)} nodes joined")
                await asyncio.sleep(0.2)
        finally:
            await admin.close()

    def kill(self, node_id: int) -> None:
        """SIGKILL one node: no controlled shutdown, its leaderships move on timeout."""
        self.nodes[node_id].kill()

    def stop_node(self, node_id: int, timeout_s: float = 60.0) -> None:
        """Controlled shutdown of one node (as in a rolling restart)."""
        self.nodes[node_id].stop(timeout_s)

    def restart(self, node_id: int, timeout_s: float = 90.0) -> None:
        """Start a stopped or killed node again on its data; wait until it serves."""
        self.nodes[node_id].start(timeout_s)

    def running(self) -> list[int]:
        return [node_id for node_id, node in self.nodes.items() if node.running()]

    def stop(self, timeout_s: float = 30.0) -> None:
        """Controlled shutdown of every node, the last ones together (a lone survivor of a
        quorum could wait for ever for the controllers it needs to shut down cleanly)."""
        for node in self.nodes.values():
            if node.running():
                node.request_stop()
        deadline = time.monotonic() + timeout_s
        for node in self.nodes.values():
            node.stop(max(1.0, deadline - time.monotonic()))

    def kill_all(self) -> None:
        for node in self.nodes.values():
            node.kill()

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
