"""The offsets an agent takes and finishes (processors.core.positions): pure, no Kafka."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wxcc_stream.processors.core.positions import Hole, Positions, committable

TP = ("t", 0)
OTHER = ("t", 1)

Batch = Sequence[tuple[tuple[str, int], int]]


def _started(now_ms: int = 0, **starts: int) -> Positions:
    positions = Positions()
    for name, offset in starts.items():
        positions.start(("t", int(name[1:])), offset, now_ms)
    return positions


def _taken(positions: Positions, batch: Batch, now_ms: int = 0) -> list[object]:
    intake = positions.take(batch, now_ms)
    return [batch[i] for i in intake.taken]


@pytest.mark.parametrize(
    ("batch", "taken", "holes"),
    [
        pytest.param([(TP, 5), (TP, 6)], [(TP, 5), (TP, 6)], [], id="in order from the start"),
        pytest.param([(TP, 6), (TP, 5)], [(TP, 6), (TP, 5)], [], id="out of order in a batch"),
        pytest.param([(TP, 3), (TP, 4), (TP, 5)], [(TP, 5)], [], id="below the start"),
        pytest.param([(TP, 5), (TP, 5), (TP, 6)], [(TP, 5), (TP, 6)], [], id="twice in a batch"),
        pytest.param([(TP, 7), (TP, 8)], [], [Hole(TP, 5, 7)], id="hole at the start"),
        pytest.param(
            [(TP, 5), (TP, 7), (TP, 6), (TP, 9)],
            [(TP, 5), (TP, 7), (TP, 6)],
            [Hole(TP, 8, 9)],
            id="the run, then a hole",
        ),
        pytest.param([(OTHER, 0)], [], [], id="not ours"),
    ],
)
def test_a_batch_is_taken_as_the_run_of_offsets_from_the_next_one(
    batch: Batch, taken: Batch, holes: list[Hole]
) -> None:
    positions = _started(p0=5)
    intake = positions.take(batch, now_ms=0)
    assert [batch[i] for i in intake.taken] == taken
    assert list(intake.holes) == holes


def test_only_finished_offsets_are_committable() -> None:
    positions = _started(p0=5)
    assert positions.committable() == {TP: 5}
    positions.take([(TP, 5), (TP, 6)], now_ms=0)
    assert positions.committable() == {TP: 5}  # taken, not finished yet
    positions.settle()  # the agent came back for another batch
    assert positions.committable() == {TP: 7}


def test_a_restarted_agent_takes_its_unfinished_batch_again() -> None:
    positions = _started(p0=5)
    positions.take([(TP, 5), (TP, 6)], now_ms=0)
    positions.settle()
    positions.take([(TP, 7), (TP, 8)], now_ms=0)
    positions.restart()
    assert positions.committable() == {TP: 7}
    assert _taken(positions, [(TP, 7), (TP, 8)]) == [(TP, 7), (TP, 8)]


def test_a_hole_stops_the_partition_until_the_missing_record_comes() -> None:
    positions = _started(p0=0, p1=0)
    intake = positions.take([(TP, 0), (TP, 2), (OTHER, 0)], now_ms=0)
    assert intake.holes == (Hole(TP, 1, 2),)
    # records read before the rewind took effect: no new rewind before `retry_ms`...
    intake = positions.take([(TP, 3), (OTHER, 1)], now_ms=100, retry_ms=500)
    assert intake.holes == ()
    assert list(intake.taken) == [1]  # the other partition goes on
    # ... then the same hole again, not a new one
    intake = positions.take([(TP, 4)], now_ms=500, retry_ms=500)
    assert intake.holes == (Hole(TP, 1, 4, repeated=True),)
    # the rewind: the missing record and the skipped ones come again
    assert _taken(positions, [(TP, 1), (TP, 2), (TP, 3)]) == [(TP, 1), (TP, 2), (TP, 3)]
    positions.settle()
    assert positions.committable() == {TP: 4, OTHER: 2}
    # a later hole is a new one
    assert positions.take([(TP, 6)], now_ms=600, retry_ms=500).holes == (Hole(TP, 4, 6),)


def test_a_partition_that_stopped_with_records_waiting_is_rewound() -> None:
    positions = _started(p0=10, p1=3)
    positions.take([(TP, 10), (OTHER, 3)], now_ms=1000)
    ends = {TP: 15, OTHER: 4}  # OTHER is caught up
    assert positions.stuck(ends, now_ms=5999, after_ms=5000) == ()
    assert positions.stuck(ends, now_ms=6000, after_ms=5000) == (Hole(TP, 11, 15, presumed=True),)
    # once per `after_ms`; then it is a repeated rewind
    assert positions.stuck(ends, now_ms=10999, after_ms=5000) == ()
    assert positions.stuck(ends, now_ms=11000, after_ms=5000) == (
        Hole(TP, 11, 15, repeated=True, presumed=True),
    )
    # moving again: the clock starts over
    positions.take([(TP, 11)], now_ms=12000)
    assert positions.stuck(ends, now_ms=16999, after_ms=5000) == ()
    assert positions.stuck({}, now_ms=99999, after_ms=5000) == ()


def test_records_deleted_by_retention_are_not_waited_for() -> None:
    positions = _started(p0=5)
    positions.take([(TP, 9)], now_ms=0)  # a hole at 5: 5..8 are gone
    positions.skip_to(TP, 9, now_ms=1)
    assert positions.committable() == {TP: 9}
    assert _taken(positions, [(TP, 9)]) == [(TP, 9)]
    positions.skip_to(TP, 3, now_ms=2)  # never backwards
    positions.settle()
    assert positions.committable() == {TP: 10}


def test_start_keep_only_and_unknown() -> None:
    positions = _started(p0=5)
    positions.start(TP, 0, now_ms=0)  # already tracked: kept
    assert positions.committable() == {TP: 5}
    assert positions.unknown([TP, OTHER]) == {OTHER}
    positions.keep_only([OTHER])  # moved to another worker
    assert positions.unknown([TP]) == {TP}
    positions.start(TP, 50, now_ms=0)  # came back: starts where the group committed
    assert _taken(positions, [(TP, 50)]) == [(TP, 50)]


def test_the_worker_commits_the_lowest_finished_offset_of_its_agents() -> None:
    first, second = _started(p0=5, p1=3), _started(p1=2)
    assert committable([first, second]) == {TP: 5, OTHER: 2}
    assert committable([]) == {}


@st.composite
def _deliveries(draw: st.DrawFn) -> tuple[int, list[list[int]]]:
    """A partition's offsets 0..n-1 as a consumer may deliver them: batches with records
    missing, repeated, late and out of order."""
    n = draw(st.integers(1, 40))
    batch = st.lists(st.integers(0, n - 1), max_size=12)
    return n, draw(st.lists(batch, min_size=1, max_size=30))


@given(_deliveries(), st.booleans())
def test_nothing_is_committed_past_a_record_the_agent_did_not_take(
    delivery: tuple[int, list[list[int]]], restarts: bool
) -> None:
    n, batches = delivery
    positions = _started(p0=0)
    finished: list[int] = []
    for now, batch in enumerate(batches):
        positions.settle()
        intake = positions.take([(TP, o) for o in batch], now_ms=now, retry_ms=3)
        taken = [batch[i] for i in intake.taken]
        if restarts and now % 3 == 2:
            positions.restart()  # the agent crashed on this batch: it comes again
            continue
        finished += taken
        assert all(hole.first not in finished for hole in intake.holes)
    positions.settle()
    done = positions.committable()[TP]
    # what may be committed is exactly what the agent finished, each offset once
    assert sorted(finished) == list(range(done))
    # with every offset delivered again in order (a rewind), the rest is taken too
    positions.take([(TP, o) for o in range(n)], now_ms=len(batches))
    positions.settle()
    assert positions.committable()[TP] == n
