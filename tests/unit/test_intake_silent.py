"""The intake and a partition that never delivers: Faust can leave an assigned partition
out of its active set (one assigned before the worker's metadata knew it, after the raw
topic grew) and fetch its records without handing them over. The intake must notice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from wxcc_stream.processors.core.positions import Positions
from wxcc_stream.processors.shell.intake import STUCK_AFTER_MS, take_in_order


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass
class ConsumerThread:
    """Where `committed_offsets` asks: the group's committed offsets (none here)."""

    def _ensure_consumer(self) -> ConsumerThread:
        return self

    def committed(self, tp: TP) -> int | None:
        return None

    async def call_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)


@dataclass
class FaustLikeConsumer:
    """What the intake asks of Faust's consumer, recording seeks and resumes."""

    assigned: list[TP]
    _thread: ConsumerThread = field(default_factory=ConsumerThread)
    seeks: list[dict[TP, int]] = field(default_factory=list)
    resumed: list[set[TP]] = field(default_factory=list)

    def assignment(self) -> list[TP]:
        return self.assigned

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, 0)

    async def seek_wait(self, offsets: dict[TP, int]) -> None:
        self.seeks.append(offsets)

    def resume_partitions(self, tps: set[TP]) -> None:
        self.resumed.append(tps)


def _events(tp: TP, offsets: range) -> list[Any]:
    return [
        SimpleNamespace(
            message=SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=o, tp=tp)
        )
        for o in offsets
    ]


async def test_an_assigned_partition_that_never_delivers_is_resumed_and_rewound() -> None:
    old, grown = TP("raw", 0), TP("raw", 5)
    consumer = FaustLikeConsumer([old, grown])
    positions = Positions()
    ends = {("raw", 0): 3, ("raw", 5): 4}  # four records wait in the new partition
    taken, holes = await take_in_order(
        consumer, positions, _events(old, range(3)), now_ms=0, ends=ends
    )
    assert len(taken) == 3
    assert not holes
    assert not consumer.seeks

    # nothing of raw[5] came for longer than the stuck bound: back in Faust's active set,
    # and fetched again from its committed offset (the log start: never committed)
    _, holes = await take_in_order(consumer, positions, [], now_ms=STUCK_AFTER_MS + 1, ends=ends)
    assert [(h.tp, h.first, h.presumed) for h in holes] == [(("raw", 5), 0, True)]
    assert consumer.resumed == [{grown}]
    assert consumer.seeks == [{grown: 0}]

    # its records arrive: taken in order, nothing rewound any more
    taken, holes = await take_in_order(
        consumer, positions, _events(grown, range(4)), now_ms=STUCK_AFTER_MS + 2, ends=ends
    )
    assert len(taken) == 4
    assert not holes
