"""`topics scale`'s plan: only growth, and which generation it rebuilds."""

from __future__ import annotations

import pytest

from wxcc_stream.processors.replay.generations import GenerationError, Generations
from wxcc_stream.processors.replay.plan import Range
from wxcc_stream.processors.replay.scaling import plan_scale


def _replay(partitions: int) -> Range:
    return Range({p: (0, 10) for p in range(partitions)})


def test_grows_the_raw_topic_and_takes_the_next_free_generation() -> None:
    g = Generations(ranges={2: _replay(4)}, done={2: {0, 1, 2, 3}})
    plan = plan_scale(g, raw_partitions=4, partitions=8)
    assert (plan.raw_before, plan.partitions, plan.generation, plan.grows) == (4, 8, 3, True)
    # already grown (a rerun, or the raw topic was grown by hand): nothing to grow
    assert not plan_scale(g, raw_partitions=8, partitions=8).grows


def test_a_rerun_continues_the_unfinished_replay_over_as_many_partitions() -> None:
    g = Generations(ranges={2: _replay(4), 3: _replay(8)}, done={3: {0}})
    assert plan_scale(g, raw_partitions=8, partitions=8).generation == 3
    # an unfinished replay over another count is not ours
    assert plan_scale(g, raw_partitions=8, partitions=12).generation == 4


@pytest.mark.parametrize(
    ("raw", "wanted", "generation", "why"),
    [
        (8, 4, None, "cannot remove"),
        (4, 0, None, "at least 1"),
        (4, 8, 1, "live topics"),
        (4, 8, 2, "over 4 partitions"),
        (4, 8, 5, "dropped"),
    ],
)
def test_refused(raw: int, wanted: int, generation: int | None, why: str) -> None:
    g = Generations(ranges={2: _replay(4)}, dropped={5})
    with pytest.raises(GenerationError, match=why):
        plan_scale(g, raw_partitions=raw, partitions=wanted, generation=generation)
