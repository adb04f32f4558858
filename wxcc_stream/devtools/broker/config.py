"""Pure rendering of the broker's configuration files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Where one local broker listens and keeps its files."""

    host: str
    port: int
    controller_port: int
    data_dir: Path
    heap_mb: int = 512
    node_id: int = 1
    # the KRaft quorum "id@host:port,..." of a cluster; empty: this node alone
    voters: str = ""
    # nodes in the cluster: replication of the internal topics and the defaults follow it
    cluster_size: int = 1

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def quorum(self) -> str:
        return self.voters or f"{self.node_id}@{self.host}:{self.controller_port}"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def kraft_dir(self) -> Path:
        return self.data_dir / "kraft"


def node_ports(port: int, controller_port: int, nodes: int) -> list[tuple[int, int]]:
    """(client, controller) ports of a local cluster's nodes: node i (1-based) on port +
    2(i-1) and controller_port + 2(i-1) (9092/9093, 9094/9095, 9096/9097 by default)."""
    return [(port + 2 * i, controller_port + 2 * i) for i in range(nodes)]


def cluster_configs(
    host: str, ports: Sequence[tuple[int, int]], data_dir: Path, heap_mb: int
) -> list[BrokerConfig]:
    """The nodes of one local cluster, node i (1-based) on ports[i-1], files in data_dir/node-i."""
    nodes = len(ports)
    voters = ",".join(f"{i}@{host}:{c}" for i, (_, c) in enumerate(ports, start=1))
    return [
        BrokerConfig(
            host,
            p,
            c,
            data_dir / f"node-{i}",
            heap_mb=heap_mb,
            node_id=i,
            voters=voters if nodes > 1 else "",
            cluster_size=nodes,
        )
        for i, (p, c) in enumerate(ports, start=1)
    ]


def render_server_properties(cfg: BrokerConfig) -> str:
    """server.properties for a broker+controller node fit for one machine: alone, or one of
    a cluster (then topics get 3 replicas, and a write needs 2 of them: acks=all)."""
    replicas = str(min(3, cfg.cluster_size))
    min_isr = str(min(2, cfg.cluster_size))
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(cfg.node_id),
        "controller.quorum.voters": cfg.quorum,
        "listeners": f"PLAINTEXT://{cfg.host}:{cfg.port},CONTROLLER://{cfg.host}:{cfg.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{cfg.host}:{cfg.port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(cfg.kraft_dir),
        "num.partitions": "1",
        # one node: internal topics cannot have more than one replica; a cluster: three
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "default.replication.factor": replicas,
        "min.insync.replicas": min_isr,
        # consumers in tests and on one machine should not wait for more members
        "group.initial.rebalance.delay.ms": "0",
        # after a restart the node's old registration must expire before it can rejoin;
        # the 9 s default would make every restart of a one-node cluster wait that long
        "broker.heartbeat.interval.ms": "500",
        "broker.session.timeout.ms": "2000",
        # a cluster creates topics only as asked, with the replicas asked for: a metadata
        # request racing the explicit creation would make one with the defaults instead
        "auto.create.topics.enable": "true" if cfg.cluster_size == 1 else "false",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.retention.hours": "-1",
        "log.segment.bytes": str(64 * 1024 * 1024),
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def render_log4j2(log_file: Path) -> str:
    """log4j2 properties sending the broker's log to a file instead of the terminal."""
    return (
        "status = error\n"
        "appender.file.type = File\n"
        "appender.file.name = FILE\n"
        f"appender.file.fileName = {log_file}\n"
        "appender.file.layout.type = PatternLayout\n"
        "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.file.ref = FILE\n"
        "logger.kafka.name = kafka\n"
        "logger.kafka.level = INFO\n"
        "logger.state.name = state.change.logger\n"
        "logger.state.level = WARN\n"
    )
