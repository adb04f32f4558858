"""The commit guard without Kafka: the worker commits per partition only what its agents
finished, never less than Faust last committed, and nothing for a partition no agent took."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wxcc_stream.processors.shell.faust_private import replace_commit_filter
from wxcc_stream.processors.shell.intake import Ledger


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


class FaustLikeConsumer:
    """The two internals the guard replaces and reads, as faust-streaming 0.15.3 has them."""

    def __init__(self) -> None:
        self._committed_offset: dict[Any, int] = {}
        self.pruned: list[list[Any]] = []

    def _filter_committable_offsets(self, tps: Any) -> dict[Any, int]:
        self.pruned.append(list(tps))
        return {tp: 10**9 for tp in tps}  # Faust's acks: they must not be used


def _ledger(**done: int) -> Ledger:
    ledger = Ledger()
    positions = ledger.positions_for("entities")
    for name, offset in done.items():
        tp = ("raw", int(name[1:]))
        positions.start(tp, 0, 0)
        positions.take([(tp, o) for o in range(offset)], 0)
    positions.settle()  # the agent came back: what it took is finished
    return ledger


def test_only_finished_offsets_past_the_last_commit_are_committed() -> None:
    ledger = _ledger(p0=5, p1=3)
    consumer = FaustLikeConsumer()
    consumer._committed_offset[TP("raw", 1)] = 3
    replace_commit_filter(consumer, ledger.offsets_to_commit)
    tps = [TP("raw", 0), TP("raw", 1), TP("raw", 2)]
    assert consumer._filter_committable_offsets(tps) == {TP("raw", 0): 5}
    assert consumer.pruned == [tps]  # Faust's bookkeeping still runs


def test_the_guard_is_installed_once() -> None:
    consumer = FaustLikeConsumer()
    replace_commit_filter(consumer, _ledger(p0=1).offsets_to_commit)
    guarded = consumer._filter_committable_offsets
    replace_commit_filter(consumer, _ledger(p0=9).offsets_to_commit)
    assert consumer._filter_committable_offsets is guarded


def test_a_restarted_agent_takes_its_unfinished_batch_again() -> None:
    ledger = _ledger(p0=2)
    positions = ledger.positions_for("entities")
    positions.take([(("raw", 0), 2), (("raw", 0), 3)], 0)  # taken, not finished
    again = ledger.positions_for("entities")  # the agent restarted
    assert again.tracks[("raw", 0)].next == 2
    assert ledger.offsets_to_commit([TP("raw", 0)], lambda tp: None) == {TP("raw", 0): 2}


def test_an_assignment_forgets_the_partitions_owned_elsewhere() -> None:
    ledger = _ledger(p0=4, p1=4)
    ledger.assigned([TP("raw", 1)])
    assert ledger.offsets_to_commit([TP("raw", 0), TP("raw", 1)], lambda tp: None) == {
        TP("raw", 1): 4
    }
