"""Key partitioning: the same partition as Kafka's default partitioner, for any key."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from wxcc_stream.base.partitioning import KeyPartitioner
from wxcc_stream.processors.core.routing import shared_partition_count
from wxcc_stream.processors.shell.topology import SharedPartitions
from wxcc_stream.schemas.event import EntityKind


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=64))
def test_partition_of_matches_kafkas_default_partitioner(key: bytes, count: int) -> None:
    partitions = list(range(count))
    expected = DefaultPartitioner()(key, partitions, partitions)
    partitioner = KeyPartitioner()
    assert partitioner.partition_of(key, count) == expected
    assert partitioner(key, partitions, partitions) == expected
    assert partitioner.partition_of(key, count) == expected  # from the cache


def test_hashes_equal_the_java_clients_murmur2() -> None:
    # Kafka's UtilsTest.testMurmur2 vectors (signed 32-bit), made positive as the client does
    vectors = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        b"abc": 479470107,
    }
    partitioner = KeyPartitioner()
    for key, java in vectors.items():
        assert partitioner.hash_of(key) == java & 0x7FFFFFFF, key


def test_the_cache_stays_bounded() -> None:
    partitioner = KeyPartitioner(max_keys=10)
    for n in range(100):
        partitioner.partition_of(b"key-%d" % n, 4)
    assert len(partitioner._hashes) <= 10


def test_records_without_key_go_to_an_available_partition() -> None:
    partitioner = KeyPartitioner()
    assert all(partitioner(None, [0, 1, 2, 3], [2]) == 2 for _ in range(20))
    assert partitioner(None, [0, 1], []) in (0, 1)


def test_shared_partition_count() -> None:
    assert shared_partition_count([4, 4, 4]) == 4
    assert shared_partition_count([4, 8, 4]) is None  # the hop keeps everything correct
    assert shared_partition_count([4, None, 4]) is None
    assert shared_partition_count([]) is None
    assert shared_partition_count([0, 0]) is None


class _Metadata:
    """What `SharedPartitions` asks a Faust consumer: partition counts and the assignment."""

    def __init__(self, counts: dict[str, int | None], assigned: list[tuple[str, int]]) -> None:
        self.counts = counts
        self.assigned = assigned

    def topic_partitions(self, topic: str) -> int | None:
        return self.counts.get(topic)

    def assignment(self) -> list[Any]:
        return [SimpleNamespace(topic=t, partition=p) for t, p in self.assigned]


def _topology() -> Any:
    def topic(name: str) -> Any:
        return SimpleNamespace(get_topic_name=lambda: name)

    kinds = {"agent-s": EntityKind.AGENT, "task-s": EntityKind.TASK}
    return SimpleNamespace(raw=topic("raw"), stream_kinds=lambda: kinds)


def test_shared_partitions_follow_a_raw_topic_that_grows() -> None:
    """Read again per batch: once the raw topic has grown (in the metadata, or only in an
    assignment made on newer metadata) no raw record is processed where it was read."""
    shared = SharedPartitions(_topology())
    consumer = _Metadata({"raw": 4, "agent-s": 4, "task-s": 4}, [("raw", 3), ("agent-s", 3)])
    assert shared.count(consumer) == 4
    consumer.assigned.append(("raw", 5))  # the leader saw 6 partitions, we still see 4
    assert shared.count(consumer) is None
    consumer.assigned.pop()
    consumer.counts["raw"] = 6
    assert shared.count(consumer) is None
    consumer.counts["agent-s"] = None
    assert shared.count(consumer) is None
