"""The broker's rendered configuration fits one machine and stays on loopback."""

from __future__ import annotations

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
