"""Pieces of the Kafka publisher that need no broker: partitioning and configuration."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from wxcc_stream.base.partitioning import KeyPartitioner
from wxcc_stream.base.settings import SettingsError, load_settings, with_overrides
from wxcc_stream.ingress.app import kafka_publisher
from wxcc_stream.ingress.confluent_publisher import ConfluentRawPublisher
from wxcc_stream.ingress.publisher import KafkaConfig, KafkaRawPublisher


@given(keys=st.lists(st.binary(max_size=40), max_size=30), count=st.integers(1, 64))
def test_partitioning_matches_kafkas_default_partitioner(keys: list[bytes], count: int) -> None:
    """The ingress places a record at `partition_of(key, partitions)` of its partitioner."""
    partitions = list(range(count))
    partitioner = KeyPartitioner()
    default = DefaultPartitioner()
    for key in keys + keys:  # the second pass is answered from the cache
        assert partitioner.partition_of(key, count) == default(key, partitions, partitions)


def test_kafka_config_from_settings() -> None:
    base = load_settings({})
    config = KafkaConfig.from_settings(base)
    assert (config.raw_topic, config.deadletter_topic) == ("wxcc.raw", "wxcc.deadletter")
    assert config.compression == "lz4"
    assert config.max_record_bytes > base.ingress.max_body_bytes
    assert (config.replication_factor, config.min_insync_replicas) == (1, 1)
    cluster = load_settings(
        {"WXCC_TOPIC_REPLICATION_FACTOR": "3", "WXCC_TOPIC_MIN_INSYNC_REPLICAS": "2"}
    )
    replicated = KafkaConfig.from_settings(cluster)
    assert (replicated.replication_factor, replicated.min_insync_replicas) == (3, 2)
    for field, value in (("compression", "brotli"), ("linger_ms", -1), ("publisher", "kafka")):
        bad = with_overrides(base, ingress=with_overrides(base.ingress, **{field: value}))
        with pytest.raises(SettingsError):
            KafkaConfig.from_settings(bad)


def test_the_publisher_setting_picks_the_kafka_client() -> None:
    base = load_settings({})
    assert base.ingress.publisher == "aiokafka"
    assert isinstance(kafka_publisher(base), KafkaRawPublisher)
    chosen = load_settings({"WXCC_INGRESS_PUBLISHER": "confluent"})
    assert isinstance(kafka_publisher(chosen), ConfluentRawPublisher)
