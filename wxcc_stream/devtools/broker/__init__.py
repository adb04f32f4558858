"""A real single-node Apache Kafka (KRaft) broker run from the official jars."""

from wxcc_stream.devtools.broker.config import BrokerConfig, render_log4j2, render_server_properties
from wxcc_stream.devtools.broker.jars import KAFKA_VERSION, JarsError, ensure_jars
from wxcc_stream.devtools.broker.process import BrokerError, LocalBroker, PortInUseError

__all__ = [
    "KAFKA_VERSION",
    "BrokerConfig",
    "BrokerError",
    "JarsError",
    "LocalBroker",
    "PortInUseError",
    "ensure_jars",
    "render_log4j2",
    "render_server_properties",
]
