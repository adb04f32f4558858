"""The soak's checks (bench/soak/checks.py) are pure: each broken promise is reported,
a clean run reports nothing, and the RSS slope is the least-squares one."""

from __future__ import annotations

import pytest

from bench.soak.checks import (
    MIB,
    Observed,
    RssSample,
    Window,
    after_warmup,
    problems,
    slope_per_minute,
    unexplained_answers,
)
from bench.soak.run import Pace

RESTART = Window(10.0, 40.0, "broker restart")


def _observed(**changes: object) -> Observed:
    clean = {
        "answers": [(1.0, 202), (12.0, 503), (13.0, 202)],
        "accepted": {"a", "b"},
        "stored": {"a", "b", "reconciled-1"},
        "unsent": [],
        "explained_503": [RESTART],
        "projection_difference": None,
    }
    return Observed(**(clean | changes))  # type: ignore[arg-type]


def test_a_clean_soak_has_no_problem() -> None:
    assert problems(_observed()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"answers": [(5.0, 503)]}, "neither 2xx nor an explained 503"),  # before the restart
        ({"answers": [(50.0, 503)]}, "neither 2xx nor an explained 503"),  # after its window
        ({"answers": [(12.0, 500)]}, "neither 2xx nor an explained 503"),  # not a 503
        ({"answers": [(12.0, 0)]}, "neither 2xx nor an explained 503"),  # no answer
        ({"stored": {"a"}}, "1 accepted events are not in the raw topic: ['b']"),
        ({"unsent": ["c"]}, "1 events never accepted"),
        ({"projection_difference": "task t1 differs"}, "projections differ from the truth"),
        ({"incidents": ["worker-2 exited"]}, "worker-2 exited"),
    ],
)
def test_each_broken_promise_is_reported(changes: dict[str, object], expected: str) -> None:
    found = problems(_observed(**changes))
    assert len(found) == 1
    assert expected in found[0]


def test_only_503s_inside_a_window_are_explained() -> None:
    answers = [(9.9, 503), (10.0, 503), (40.0, 503), (40.1, 503), (20.0, 202), (20.0, 429)]
    assert unexplained_answers(answers, [RESTART]) == [(9.9, 503), (40.1, 503), (20.0, 429)]


@pytest.mark.parametrize("mib_per_min", [0.0, 1.5, -2.0, 120.0])
def test_the_slope_of_a_straight_line_is_its_gradient(mib_per_min: float) -> None:
    samples = [RssSample(t, int(100 * MIB + mib_per_min * MIB * t / 60)) for t in range(0, 600, 5)]
    assert slope_per_minute(samples) == pytest.approx(mib_per_min, abs=1e-4)


def test_the_slope_needs_two_instants_and_ignores_warmup() -> None:
    assert slope_per_minute([]) is None
    assert slope_per_minute([RssSample(1.0, 5), RssSample(1.0, 9)]) is None
    # a start-up climb, then flat: the slope after the warm-up is flat
    climb = [RssSample(t, t * MIB) for t in range(10)]
    flat = [RssSample(t, 50 * MIB) for t in range(10, 60)]
    assert slope_per_minute(climb + flat) > 10  # type: ignore[operator]
    assert slope_per_minute(after_warmup(climb + flat)) == pytest.approx(0.0)


def test_the_pace_slows_down_only_while_faults_are_due_and_events_run_out() -> None:
    done = False
    pace = Pace(rate=40.0, total=1_000, faults_done=lambda: done)
    rates = [pace() for _ in range(1_000)]
    assert rates[:599] == [40.0] * 599  # more than 10 s of events left: steady
    assert rates[700] == pytest.approx((1_000 - 701) / 10)
    assert rates[-1] == 1.0  # never stops
    done = True
    pace = Pace(rate=40.0, total=1_000, faults_done=lambda: done)
    assert {pace() for _ in range(1_000)} == {40.0}
