"""A replay's own records in the generations topic: its range and its finished partitions."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from wxcc_stream.base.topic_log import append, partitions_of, read_topic
from wxcc_stream.processors.replay.generations import (
    Generations,
    done_key,
    range_key,
    seeded_key,
)
from wxcc_stream.processors.replay.plan import Range, encode_range

__all__ = ["ProgressLog"]


class ProgressLog:
    """Replay `generation`'s view of the generations topic."""

    def __init__(self, bootstrap: str, topic: str, generation: int) -> None:
        self.bootstrap, self.topic, self.generation = bootstrap, topic, generation

    async def state(self) -> Generations:
        return Generations.fold(await read_topic(self.bootstrap, self.topic))

    async def agree_range(
        self, raw: str, from_ms: int | None, to_ms: int | None, *, seed: bool = False
    ) -> tuple[Range, bool]:
        """The range of this generation, and whether it seeds its worker's tables: the
        ones stored, else computed now and stored (and read back: when two processes store
        one at once, the first stored wins). Seeding is decided with the range: a rerun
        keeps what the first run chose."""
        state = await self.state()
        known = state.ranges.get(self.generation)
        if known is None:
            span = await raw_range(self.bootstrap, raw, from_ms, to_ms)
            records = [(seeded_key(self.generation), b"1")] if seed else []
            records.append((range_key(self.generation), encode_range(span)))
            await append(self.bootstrap, self.topic, records)
            state = await self.state()
        return state.ranges[self.generation], self.generation in state.seeded

    async def finished(self, partitions: int) -> set[int]:
        """The entity partitions of this generation that are complete."""
        done = (await self.state()).done.get(self.generation, set())
        return {q for q in done if q < partitions}

    async def mark_finished(self, partition: int) -> None:
        await append(self.bootstrap, self.topic, [(done_key(self.generation, partition), b"1")])


async def raw_range(bootstrap: str, raw: str, from_ms: int | None, to_ms: int | None) -> Range:
    """[start, end) per raw partition: from the first record at or after `from_ms` (the
    beginning without it) to the first at or after `to_ms` (the current end without it)."""
    partitions = await partitions_of(bootstrap, raw)
    if not partitions:
        raise LookupError(f"no topic {raw} (or it has no partitions)")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(raw, p) for p in partitions]
        first = await consumer.beginning_offsets(tps)
        last = await consumer.end_offsets(tps)
        starts = await _at(consumer, tps, from_ms, first, last)
        ends = await _at(consumer, tps, to_ms, last, last)
        return Range({tp.partition: (starts[tp], max(starts[tp], ends[tp])) for tp in tps})
    finally:
        await consumer.stop()


async def _at(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    at_ms: int | None,
    default: dict[TopicPartition, int],
    end: dict[TopicPartition, int],
) -> dict[TopicPartition, int]:
    if at_ms is None:
        return dict(default)
    found = await consumer.offsets_for_times({tp: at_ms for tp in tps})
    # no record at or after the time: the partition's end
    return {tp: (found[tp].offset if found[tp] is not None else end[tp]) for tp in tps}
