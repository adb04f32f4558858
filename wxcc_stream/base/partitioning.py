"""Kafka's default key partitioning (murmur2, as the Java client and aiokafka do), cached.

aiokafka's `murmur2` is pure Python (a few microseconds a key) and entity ids repeat all
day, so each key's hash is remembered. The same function decides where the ingress puts a
raw record, where the worker's producer puts a per-entity record, and whether a raw record
already sits in its entity's partition (then the worker processes it without a hop).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from aiokafka.partitioner import murmur2

__all__ = ["KeyPartitioner"]


class KeyPartitioner:
    """`partition_of(key, count)` like Kafka's default partitioner; also usable as
    aiokafka's (and Faust's `producer_partitioner`) partitioner callable."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._max_keys = max_keys
        self._hashes: dict[bytes, int] = {}

    def hash_of(self, key: bytes) -> int:
        """murmur2 of the key, as a non-negative int."""
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._max_keys:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return hashed

    def partition_of(self, key: bytes, count: int) -> int:
        """The partition of `key` in a topic of `count` partitions."""
        return self.hash_of(key) % count

    def __call__(
        self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
    ) -> int:
        """aiokafka's partitioner interface: `all_partitions` sorted by id."""
        if key is None:
            return random.choice(available or all_partitions)
        return all_partitions[self.hash_of(key) % len(all_partitions)]
