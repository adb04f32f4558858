"""No input record lost across a rebalance: commit what the agents finished, rewind holes.

How Faust (faust-streaming 0.15.3, aiokafka 0.14) loses records, as traced in the e2e test
of a worker joining under load:

1. Stream records reach the agent before recovery has sought the stream partitions to
   their committed offsets. A worker with no previous assignment never stopped its flow
   (`App._on_partitions_revoked` stops it only when something was assigned) and fetches
   the new partitions until `_on_partitions_assigned` pauses them; a worker that had a
   full queue gets its paused partitions activated again by `Consumer.on_buffer_drop`
   while recovery resumes the flow to read the changelogs.
2. Recovery then seeks to the committed offsets (`Consumer.perform_seek`, resetting
   `_read_offset`) and resumes `app.flow_control`, which empties every stream queue: a
   record just put there is dropped without an ack, and the fetch loop stores that
   record's offset as read after the seek, so the re-fetch from the committed offset is
   discarded as already read.
3. `Consumer._new_offset` accepts acked offsets starting one past the committed offset
   (`min(acked) - committed > 1`), but the committed offset is the next one to read, so
   the commit moves over the missing record. Other paths end the same way: records
   skipped while the flow is suspended or from an old generation are acked unread
   (`Stream._py_aiter`), a jump in offsets is acked as a gap (`Consumer._add_gap`), and
   after a revocation the committed offsets are forgotten, so any run of acks commits.

So the worker does not use Faust's acks to decide what to commit: `install_commit_guard`
makes the consumer commit, per input partition, only what the agent finished
(`processors.positions`), and `take_in_order` hands the agent each partition's records in
offset order from the committed offset, rewinding the consumer when a record is missing.
This reaches into Faust's consumer (`_filter_committable_offsets`, `_committed_offset`,
`_thread`); the versions are pinned and `install_commit_guard` fails loudly if they change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from aiokafka.errors import KafkaError

from wxcc_stream.processors.errors import ProcessorError
from wxcc_stream.processors.positions import Hole, Positions, TopicPartition

__all__ = [
    "RETRY_REWIND_MS",
    "STUCK_AFTER_MS",
    "UnsupportedConsumer",
    "install_commit_guard",
    "rewind",
    "start_offsets",
    "take_in_order",
]

log = logging.getLogger(__name__)

_GUARDED = "_wxcc_commit_guard"

# Records read before a rewind took effect still arrive for a while: rewind again only
# if the missing record has not come by then.
RETRY_REWIND_MS = 500
# A partition with records waiting that has not moved for this long is rewound: its next
# record was dropped and no later one arrived to show it (the liveness check refreshes
# the end offsets every 2 s).
STUCK_AFTER_MS = 5_000


class UnsupportedConsumer(ProcessorError):
    """The Faust consumer lacks what the commit guard replaces (another Faust version)."""


def install_commit_guard(
    consumer: Any, committable: Callable[[], Mapping[TopicPartition, int]]
) -> None:
    """Make `consumer` commit only the offsets `committable()` gives (idempotent).

    Faust still keeps its ack bookkeeping (so it stays bounded); its offsets are not used.
    A partition absent from `committable()` is not committed at all: every topic the
    worker consumes goes through `take_in_order`.
    """
    if getattr(consumer, _GUARDED, False):
        return
    faust_offsets = getattr(consumer, "_filter_committable_offsets", None)
    committed = getattr(consumer, "_committed_offset", None)
    if faust_offsets is None or committed is None:
        raise UnsupportedConsumer(
            "this Faust consumer has no _filter_committable_offsets/_committed_offset: "
            "the commit guard needs faust-streaming 0.15.3"
        )

    def guarded(tps: Iterable[Any]) -> dict[Any, int]:
        wanted = list(tps)
        faust_offsets(wanted)  # prunes Faust's acked offsets; the result is not ours
        done = committable()
        offsets = {}
        for tp in wanted:
            offset = done.get((tp.topic, tp.partition))
            last = committed.get(tp)
            if offset is not None and (last is None or offset > last):
                offsets[tp] = offset
        return offsets

    consumer._filter_committable_offsets = guarded
    setattr(consumer, _GUARDED, True)


async def take_in_order(
    consumer: Any,
    positions: Positions,
    batch: Sequence[Any],
    *,
    now_ms: int,
    ends: Mapping[TopicPartition, int],
) -> tuple[list[Any], tuple[Hole, ...]]:
    """The events of `batch` the agent should process, and the holes found (rewound).

    Call it when the agent comes back for a batch: the one it took before is finished.
    `ends`: the partitions' latest known end offsets, to notice records that stopped coming.
    """
    positions.settle()
    tps = {(e.message.topic, e.message.partition): e.message.tp for e in batch}
    unknown = positions.unknown(tps)
    if unknown:
        await _start(consumer, positions, [tps[tp] for tp in unknown], now_ms)
    intake = positions.take(
        [((e.message.topic, e.message.partition), e.message.offset) for e in batch],
        now_ms,
        retry_ms=RETRY_REWIND_MS,
    )
    holes = intake.holes + positions.stuck(ends, now_ms, STUCK_AFTER_MS)
    if holes:
        owned = {_key(tp): tp for tp in consumer.assignment()}
        again = [owned[h.tp] for h in holes if h.repeated and h.tp in owned]
        if again:
            await _skip_deleted(consumer, positions, again, now_ms)
        for hole in holes:
            tp = owned.get(hole.tp)
            if tp is not None:
                await rewind(consumer, tp, positions.tracks[hole.tp].next)
    return [batch[i] for i in intake.taken], holes


async def _skip_deleted(consumer: Any, positions: Positions, tps: list[Any], now_ms: int) -> None:
    # A rewind below the log start lands at the log start (auto_offset_reset), so the
    # missing records never come: they were deleted by retention before anyone read them.
    try:
        earliest = await consumer.earliest_offsets(*tps)
    except (TimeoutError, KafkaError) as exc:
        log.info("no earliest offsets for %s: %r", sorted(map(_key, tps)), exc)
        return
    for tp in tps:
        start = earliest.get(tp)
        track = positions.tracks.get(_key(tp))
        if start is not None and track is not None and track.next < start:
            log.error(
                "%s[%d]: offsets %d..%d were deleted (retention) before the worker read them",
                tp.topic, tp.partition, track.next, start - 1,
            )  # fmt: skip
            positions.skip_to(_key(tp), start, now_ms)


async def _start(consumer: Any, positions: Positions, tps: list[Any], now_ms: int) -> None:
    owned = _owned(consumer)
    try:
        starts = await start_offsets(consumer, [tp for tp in tps if _key(tp) in owned])
    except (TimeoutError, KafkaError) as exc:
        # not taken this time: the next batch asks again, and the records skipped now
        # are then a hole at the committed offset, fetched again
        log.warning("no committed offsets for %s yet: %r", sorted(map(_key, tps)), exc)
        return
    owned = _owned(consumer)  # an assignment may have come while we asked
    for tp, offset in starts.items():
        if tp in owned:
            positions.start(tp, offset, now_ms)


def _key(tp: Any) -> TopicPartition:
    return (tp.topic, tp.partition)


def _owned(consumer: Any) -> set[TopicPartition]:
    return {_key(tp) for tp in consumer.assignment()}


async def start_offsets(consumer: Any, tps: Iterable[Any]) -> dict[TopicPartition, int]:
    """Where each partition starts for this worker: the group's committed offset.

    A partition never committed, or committed below its log start, starts at its log start
    (`auto_offset_reset=earliest`).
    """
    wanted = list(tps)
    if not wanted:
        return {}
    thread = consumer._thread
    client = thread._ensure_consumer()
    found = await asyncio.gather(*(thread.call_thread(client.committed, tp) for tp in wanted))
    earliest = await consumer.earliest_offsets(*wanted)
    # below the log start (retention) the consumer starts at the log start
    return {
        _key(tp): max(offset or 0, earliest.get(tp) or 0)
        for tp, offset in zip(wanted, found, strict=True)
    }


async def rewind(consumer: Any, tp: Any, offset: int) -> bool:
    """Send the consumer back to `offset` of `tp`; False if it is not ours any more."""
    try:
        await consumer.seek_wait({tp: offset})
    except (TimeoutError, KafkaError) as exc:
        # moved to another worker meanwhile: it starts from our commit, which is not
        # past the hole, so nothing is lost
        log.info("rewind of %s[%d] to %d not done: %r", tp.topic, tp.partition, offset, exc)
        return False
    return True
