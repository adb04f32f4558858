"""A real Apache Kafka (KRaft) broker, or a cluster of them, run from the official jars."""

from wxcc_stream.devtools.broker.cluster import LocalCluster
from wxcc_stream.devtools.broker.config import (
    BrokerConfig,
    cluster_configs,
    node_ports,
    render_log4j2,
    render_server_properties,
)
from wxcc_stream.devtools.broker.jars import KAFKA_VERSION, JarsError, ensure_jars
from wxcc_stream.devtools.broker.process import BrokerError, LocalBroker, PortInUseError

__all__ = [
    "KAFKA_VERSION",
    "BrokerConfig",
    "BrokerError",
    "JarsError",
    "LocalBroker",
    "LocalCluster",
    "PortInUseError",
    "cluster_configs",
    "ensure_jars",
    "node_ports",
    "render_log4j2",
    "render_server_properties",
]
