"""The intake of input records, rebalances included: no record lost, none committed unread.

Faust can drop records around a rebalance and still acknowledge them (docs/processors.md,
"Rebalances"), so the worker commits per input partition only what its agent finished
(`Ledger`, the commit guard) and `take_in_order` hands the agent each partition's records
in offset order from the committed offset, rewinding the consumer when one is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaError

from wxcc_stream.processors.core.positions import Hole, Positions, TopicPartition, committable
from wxcc_stream.processors.shell.faust_private import committed_offsets, replace_commit_filter

__all__ = [
    "RETRY_REWIND_MS",
    "STUCK_AFTER_MS",
    "Ledger",
    "rewind",
    "start_offsets",
    "take_batch",
    "take_in_order",
    "watch_rebalances",
]

log = logging.getLogger(__name__)

# Records read before a rewind took effect still arrive for a while: rewind again only
# if the missing record has not come by then.
RETRY_REWIND_MS = 500
# A partition with records waiting that has not moved for this long is rewound: its next
# record was dropped and no later one arrived to show it (the liveness check refreshes
# the end offsets every 2 s).
STUCK_AFTER_MS = 5_000


@dataclass(slots=True)
class Ledger:
    """The offsets each agent took and finished, and what the worker may commit."""

    positions: dict[str, Positions] = field(default_factory=dict)

    def positions_for(self, agent: str) -> Positions:
        """The offsets one agent took and finished; called when the agent (re)starts.

        A restarted agent (it crashed, or Faust restarted it) did not finish the batch it
        had taken: those records must be taken again.
        """
        positions = self.positions.get(agent)
        if positions is None:
            positions = self.positions[agent] = Positions()
        else:
            positions.restart()
        return positions

    def assigned(self, assigned: Iterable[Any]) -> None:
        """A new assignment: forget positions of partitions owned elsewhere now."""
        tps = [(tp.topic, tp.partition) for tp in assigned]
        for positions in self.positions.values():
            positions.keep_only(tps)

    def offsets_to_commit(
        self, tps: Iterable[Any], last_committed: Callable[[Any], int | None]
    ) -> dict[Any, int]:
        """Per partition among `tps`, the finished offset, where it is past the last commit.

        A partition no agent tracks is not committed at all: every topic the worker
        consumes goes through `take_in_order`.
        """
        done = committable(self.positions.values())
        offsets = {}
        for tp in tps:
            offset = done.get((tp.topic, tp.partition))
            last = last_committed(tp)
            if offset is not None and (last is None or offset > last):
                offsets[tp] = offset
        return offsets


def watch_rebalances(app: Any, ledger: Ledger, revoked: Callable[[set[Any]], None]) -> None:
    """Connect the rebalance signals: commit only what the agents finished (the commit
    guard, installed at the first signal, before any record is taken), forget moved
    partitions, and tell `revoked` which ones went."""

    def guard_commits() -> None:
        replace_commit_filter(app.consumer, ledger.offsets_to_commit)

    async def on_revoked(sender: Any, revoked_tps: set[Any], **kwargs: Any) -> None:
        guard_commits()
        revoked(revoked_tps)

    async def on_assigned(sender: Any, assigned: set[Any], **kwargs: Any) -> None:
        guard_commits()
        ledger.assigned(assigned)

    app.on_partitions_revoked.connect(on_revoked)
    app.on_partitions_assigned.connect(on_assigned)


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
    # assigned partitions that delivered nothing yet are tracked from their committed
    # offset too, so one whose records never reach the agent is found stuck below
    silent = [
        tp
        for tp in consumer.assignment()
        if _key(tp) in ends and _key(tp) not in positions.tracks and _key(tp) not in tps
    ]
    if unknown or silent:
        await _start(consumer, positions, [tps[tp] for tp in unknown] + silent, now_ms)
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
                if hole.presumed:
                    # Faust fetches but never hands over the records of a partition it left
                    # out of its active set (one assigned before this worker's metadata
                    # knew it: a raw topic grown while the worker runs)
                    consumer.resume_partitions({tp})
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
    found = await committed_offsets(consumer, wanted)
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


async def take_batch(
    consumer: Any,
    positions: Positions,
    batch: Sequence[Any],
    *,
    now_ms: int,
    ends: Mapping[TopicPartition, int],
    holes_total: Any,
) -> list[Any]:
    """`take_in_order`, with each new hole counted (`holes_total`: the labelled counter
    family) and logged once."""
    events, holes = await take_in_order(consumer, positions, batch, now_ms=now_ms, ends=ends)
    for hole in holes:
        topic, partition = hole.tp
        if hole.presumed:
            log.info(
                "%s[%d]: stopped at %d with records up to %d waiting: rewound to %d",
                topic, partition, hole.first, hole.next_seen - 1, hole.first,
            )  # fmt: skip
        elif not hole.repeated:
            holes_total.labels(topic, str(partition)).inc(hole.next_seen - hole.first)
            log.warning(
                "%s[%d]: offsets %d..%d did not reach the agent (dropped by the consumer "
                "around a rebalance, or left by a restarted agent): rewound to %d",
                topic, partition, hole.first, hole.next_seen - 1, hole.first,
            )  # fmt: skip
    return events
