"""Pure rendering of the broker's configuration files."""

from __future__ import annotations

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

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def kraft_dir(self) -> Path:
        return self.data_dir / "kraft"


def render_server_properties(cfg: BrokerConfig) -> str:
    """server.properties for a one-node broker+controller fit for one machine."""
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(cfg.node_id),
        "controller.quorum.voters": f"{cfg.node_id}@{cfg.host}:{cfg.controller_port}",
        "listeners": f"PLAINTEXT://{cfg.host}:{cfg.port},CONTROLLER://{cfg.host}:{cfg.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{cfg.host}:{cfg.port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(cfg.kraft_dir),
        "num.partitions": "1",
        # one node: internal topics cannot have more than one replica
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        # consumers in tests and on one machine should not wait for more members
        "group.initial.rebalance.delay.ms": "0",
        # after a restart the node's old registration must expire before it can rejoin;
        # the 9 s default would make every restart of a one-node cluster wait that long
        "broker.heartbeat.interval.ms": "500",
        "broker.session.timeout.ms": "2000",
        "auto.create.topics.enable": "true",
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
