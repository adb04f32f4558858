"""Processing-time flush in Faust's model: tick records sent to the per-entity streams.

Tables may change only inside stream processing, so a timer sends a keyless tick to every
owned partition and the agent releases what is due there (docs/processors.md, "Ticks").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["is_tick", "send_ticks", "tick_value"]


def tick_value(now_ms: int) -> bytes:
    """The value of a tick record (its send time, for the logs)."""
    return b'{"tick":%d}' % now_ms


def is_tick(key: bytes | None) -> bool:
    """Tick records have no key; every event record is keyed by its entity id."""
    return key is None


async def send_ticks(topics: Iterable[Any], assignment: Iterable[Any], now_ms: int) -> int:
    """Send one tick to each partition of `topics` found in `assignment` (TopicPartitions).

    Only the partitions this worker owns: their buffers live here, and with several workers
    each one ticks its own share. Returns how many ticks were sent.
    """
    by_name = {topic.get_topic_name(): topic for topic in topics}
    sent = 0
    for tp in sorted(assignment):
        topic = by_name.get(tp.topic)
        if topic is not None:
            await topic.send(key=None, value=tick_value(now_ms), partition=tp.partition)
            sent += 1
    return sent
