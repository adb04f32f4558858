"""The broker's rendered configuration fits one machine and stays on loopback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from wxcc_stream.devtools.broker import BrokerConfig, PortInUseError, render_server_properties
from wxcc_stream.devtools.broker.process import LocalBroker, free_port, new_cluster_id


def _props(cfg: BrokerConfig) -> dict[str, str]:
    text = render_server_properties(cfg)
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_single_node_settings(tmp_path: Path) -> None:
    props = _props(BrokerConfig("127.0.0.1", 19092, 19093, tmp_path))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "offsets.topic.num.partitions",
        "transaction.state.log.num.partitions",
    ):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["log.dirs"] == str(tmp_path / "kraft")


def test_cluster_id_has_kafka_format() -> None:
    ids = {new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 22 and "=" not in i for i in ids)


def test_port_in_use_gives_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = LocalBroker(BrokerConfig("127.0.0.1", port, free_port(), tmp_path), tmp_path)
        with pytest.raises(PortInUseError, match=f"broker port 127.0.0.1:{port} is already in use"):
            broker.start()


def test_cluster_nodes_share_one_quorum_and_replicate_three_ways(tmp_path: Path) -> None:
    from wxcc_stream.devtools.broker import cluster_configs, node_ports

    ports = node_ports(9092, 9093, 3)
    assert ports == [(9092, 9093), (9094, 9095), (9096, 9097)]
    nodes = cluster_configs("127.0.0.1", ports, tmp_path, heap_mb=320)
    assert [n.node_id for n in nodes] == [1, 2, 3]
    assert [n.data_dir for n in nodes] == [tmp_path / f"node-{i}" for i in (1, 2, 3)]
    for node in nodes:
        props = _props(node)
        assert props["node.id"] == str(node.node_id)
        assert props["controller.quorum.voters"] == (
            "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097"
        )
        assert props["advertised.listeners"] == f"PLAINTEXT://127.0.0.1:{node.port}"
        assert props["default.replication.factor"] == "3"
        assert props["offsets.topic.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["transaction.state.log.min.isr"] == "2"


def test_a_one_node_cluster_is_a_single_broker(tmp_path: Path) -> None:
    from wxcc_stream.devtools.broker import cluster_configs

    (node,) = cluster_configs("127.0.0.1", [(19092, 19093)], tmp_path, heap_mb=320)
    props = _props(node)
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["min.insync.replicas"] == "1"


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert all(1024 <= p < low for p in ports), ports
    for port in ports[:5]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))
