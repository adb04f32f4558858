"""Damaged deliveries: shuffled, duplicated, dropped and late, exactly as configured."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxcc_stream.devtools.scenario import (
    HOUR_MS,
    DamageConfig,
    Delivery,
    ScenarioConfig,
    ScenarioConfigError,
    damage,
    generate,
)

EVENTS = generate(ScenarioConfig(seed=21, agents=5, duration_ms=2 * HOUR_MS, tasks=80)).events
N = len(EVENTS)


def _ids(delivery: Delivery) -> Counter[str]:
    return Counter(event["id"] for _, event in delivery.deliveries)


def test_no_damage_is_the_identity() -> None:
    delivery = damage(EVENTS)
    assert delivery == damage(EVENTS, DamageConfig())
    assert [event for _, event in delivery.deliveries] == list(EVENTS)
    assert all(
        event is original for (_, event), original in zip(delivery.deliveries, EVENTS, strict=True)
    )
    assert [at for at, _ in delivery.deliveries] == [e["data"]["createdTime"] for e in EVENTS]
    assert (delivery.dropped, delivery.late, delivery.duplicated) == ((), (), ())


damage_configs = st.builds(
    DamageConfig,
    seed=st.integers(0, 2**32),
    shuffle_window_ms=st.sampled_from([0, 1, 500, 60_000]),
    duplicate_fraction=st.floats(0, 0.5),
    duplicate_delay_ms=st.integers(1, 10_000),
    drop_fraction=st.floats(0, 0.3),
    late_fraction=st.floats(0, 0.3),
    late_delay_ms=st.integers(0, 3_600_000),
)


@settings(max_examples=80, deadline=None)
@given(config=damage_configs)
def test_delivery_is_the_events_minus_drops_plus_duplicates(config: DamageConfig) -> None:
    delivery = damage(EVENTS, config)
    dropped = {e["id"] for e in delivery.dropped}
    expected = Counter(e["id"] for e in EVENTS if e["id"] not in dropped)
    expected.update(delivery.duplicated)
    assert _ids(delivery) == expected
    # Exact fractions, of the whole input.
    assert len(delivery.dropped) == round(N * config.drop_fraction)
    assert len(delivery.late) == round(N * config.late_fraction)
    assert len(delivery.duplicated) == round(N * config.duplicate_fraction)
    assert not dropped & set(delivery.late)
    assert not dropped & set(delivery.duplicated)
    # Sorted by arrival; each first arrival is its time + jitter (+ the delay if late).
    arrivals = [at for at, _ in delivery.deliveries]
    assert arrivals == sorted(arrivals)
    late = set(delivery.late)
    first_seen: dict[str, int] = {}
    for at, event in delivery.deliveries:
        if event["id"] in first_seen:
            assert 1 <= at - first_seen[event["id"]] <= config.duplicate_delay_ms
            continue
        first_seen[event["id"]] = at
        offset = at - event["data"]["createdTime"]
        if event["id"] in late:
            offset -= config.late_delay_ms
        assert 0 <= offset < max(1, config.shuffle_window_ms)


@settings(max_examples=20, deadline=None)
@given(config=damage_configs)
def test_damage_is_seeded(config: DamageConfig) -> None:
    assert damage(EVENTS, config) == damage(EVENTS, config)


def test_other_seed_other_damage() -> None:
    config = DamageConfig(seed=1, shuffle_window_ms=5_000, duplicate_fraction=0.1)
    other = DamageConfig(seed=2, shuffle_window_ms=5_000, duplicate_fraction=0.1)
    assert damage(EVENTS, config) != damage(EVENTS, other)


def test_duplicates_are_identical_events() -> None:
    delivery = damage(EVENTS, DamageConfig(seed=3, duplicate_fraction=0.2))
    seen: dict[str, dict[str, Any]] = {}
    for _, event in delivery.deliveries:
        if event["id"] in seen:
            assert event == seen[event["id"]]
        seen[event["id"]] = event
    assert len(delivery.deliveries) == N + round(0.2 * N)


def test_a_window_reorders_and_late_events_arrive_after_the_grace() -> None:
    delivery = damage(EVENTS, DamageConfig(seed=4, shuffle_window_ms=10_000, late_fraction=0.05))
    order = [event["data"]["createdTime"] for _, event in delivery.deliveries]
    assert order != sorted(order)  # shuffled
    late = set(delivery.late)
    assert late
    for at, event in delivery.deliveries:
        if event["id"] in late:
            assert at - event["data"]["createdTime"] >= 600_000


def test_everything_dropped() -> None:
    delivery = damage(EVENTS, DamageConfig(drop_fraction=1.0))
    assert delivery.deliveries == ()
    assert list(delivery.dropped) == list(EVENTS)


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"drop_fraction": 1.5}, "drop_fraction"),
        ({"duplicate_fraction": -0.1}, "duplicate_fraction"),
        ({"drop_fraction": 0.6, "late_fraction": 0.6}, "late_fraction"),
        ({"shuffle_window_ms": -1}, "shuffle_window_ms"),
        ({"duplicate_delay_ms": 0}, "duplicate_delay_ms"),
        ({"twin_fraction": 1.1}, "twin_fraction"),
        (
            {"drop_fraction": 0.5, "twin_fraction": 0.3, "conflict_fraction": 0.3},
            "conflict_fraction",
        ),
        ({"twin_source_suffix": ""}, "twin_source_suffix"),
    ],
)
def test_bad_damage_config_is_refused(changes: dict[str, Any], name: str) -> None:
    with pytest.raises(ScenarioConfigError) as caught:
        DamageConfig(**changes)
    assert caught.value.name == name


def test_twins_come_from_another_source_with_a_new_id_and_the_same_content() -> None:
    delivery = damage(EVENTS, DamageConfig(seed=4, twin_fraction=0.1))
    originals = {e["id"]: e for e in EVENTS}
    assert len(delivery.twinned) == round(N * 0.1)
    delivered = [e for _, e in delivery.deliveries]
    assert len(delivered) == N + len(delivery.twinned)
    twins = [e for e in delivered if e["id"] not in originals]
    assert len(twins) == len(delivery.twinned)
    by_content = {
        (o["type"], _content_key(o["data"])): o for o in EVENTS if o["id"] in delivery.twinned
    }
    for twin in twins:
        original = by_content[twin["type"], _content_key(twin["data"])]
        assert twin["source"] == original["source"] + "-resent"
        # the contract keeps the smaller (source, id): the original, so the truth holds
        assert (twin["source"], twin["id"]) > (original["source"], original["id"])
        assert {k: v for k, v in twin.items() if k not in ("id", "source")} == {
            k: v for k, v in original.items() if k not in ("id", "source")
        }


def test_conflicts_share_source_and_id_and_arrive_after_the_original() -> None:
    delivery = damage(EVENTS, DamageConfig(seed=4, shuffle_window_ms=3_000, conflict_fraction=0.05))
    assert len(delivery.conflicted) == round(N * 0.05)
    originals = {e["id"]: e for e in EVENTS}
    seen: dict[str, dict[str, Any]] = {}
    for _, event in delivery.deliveries:
        if event["id"] in seen:
            first = seen[event["id"]]
            assert first is originals[event["id"]], "the original arrives first"
            assert event["source"] == first["source"]
            assert event["data"]["createdTime"] == first["data"]["createdTime"] + 1
        else:
            seen[event["id"]] = event
    assert set(delivery.conflicted) <= set(seen)


def test_twins_and_conflicts_never_touch_the_same_event_and_leave_inputs_alone() -> None:
    before = [dict(e) | {"data": dict(e["data"])} for e in EVENTS]
    delivery = damage(EVENTS, DamageConfig(seed=9, twin_fraction=0.2, conflict_fraction=0.2))
    assert not set(delivery.twinned) & set(delivery.conflicted)
    assert [dict(e) | {"data": dict(e["data"])} for e in EVENTS] == before


def _content_key(data: dict[str, Any]) -> str:
    """A hashable rendering of an event's data."""
    return repr(sorted(data.items()))
