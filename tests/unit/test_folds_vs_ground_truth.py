"""The folds and the per-entity log against the scenario generator's ground truth.

The generator computes its expected documents from its own model, not from the folds, so
agreement here means both sides read docs/projections.md the same way.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.contract_ranks import AGENT_RANK, OTHER_RANK, TASK_RANK
from wxcc_stream.devtools.scenario import (
    MINUTE_MS,
    DamageConfig,
    Scenario,
    ScenarioConfig,
    damage,
    generate,
)
from wxcc_stream.processors.core.log import EntityLog, new_log, projection
from wxcc_stream.processors.core.outcome import DuplicateReason, Outcome
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.step import accept, release_due
from wxcc_stream.projections import (
    agent_document,
    evolve_agent,
    evolve_task,
    fold,
    initial_agent_state,
    initial_task,
    task_document,
)
from wxcc_stream.schemas.cloudevent import entity_keys, parse_event
from wxcc_stream.schemas.event import EntityKind, Event

Key = tuple[EntityKind, str]
POLICY = Policy(grace_ms=3_000, flush_timeout_ms=2_000, horizon_ms=6 * 60 * MINUTE_MS)


def scenario(seed: int, agents: int, minutes: int) -> Scenario:
    return generate(
        ScenarioConfig(
            seed=seed,
            agents=agents,
            teams=2,
            queues=2,
            duration_ms=minutes * MINUTE_MS,
            channel_state_fraction=0.2,  # some legs in the v2 spelling
        )
    )


def route(events: Iterable[Event]) -> dict[Key, list[Event]]:
    streams: dict[Key, list[Event]] = defaultdict(list)
    for event in events:
        for key in entity_keys(event):
            streams[key].append(event)
    return streams


def truth(sc: Scenario) -> dict[Key, dict[str, Any]]:
    expected: dict[Key, dict[str, Any]] = {}
    expected.update({(EntityKind.AGENT, k): doc for k, doc in sc.agent_truth.items()})
    expected.update({(EntityKind.TASK, k): doc for k, doc in sc.task_truth.items()})
    return expected


def folded(kind: EntityKind, entity_id: str, events: Sequence[Event]) -> dict[str, Any]:
    # the page's order (docs/projections.md), not the code's own sort key
    ranks = AGENT_RANK if kind is EntityKind.AGENT else TASK_RANK
    ordered = sorted(
        events,
        key=lambda e: (e.created_time, ranks.get(e.type, OTHER_RANK), e.ce_id, e.ce_source),
    )
    if kind is EntityKind.AGENT:
        return agent_document(fold(ordered, initial_agent_state(entity_id), evolve_agent))
    return task_document(fold(ordered, initial_task(entity_id), evolve_task))


def deliver(schedule: Iterable[tuple[int, Event]]) -> tuple[dict[Key, EntityLog], Outcome]:
    """Feed (arrival ms, event) pairs to per-entity logs, ticking like the shell would."""
    logs: dict[Key, EntityLog] = {}
    total = Outcome()
    next_tick = None
    now = 0
    for now, event in schedule:
        if next_tick is None or now >= next_tick:
            for key, log in logs.items():
                logs[key], out = release_due(log, now_ms=now, policy=POLICY)
                total = total.then(out)
            next_tick = now + 5_000
        for key in entity_keys(event):
            log = logs.get(key) or new_log(*key)
            logs[key], out = accept(log, event, now_ms=now, policy=POLICY)
            total = total.then(out)
    for key, log in logs.items():
        logs[key], out = release_due(log, now_ms=now + 10**7, policy=POLICY)
        total = total.then(out)
    return logs, total


def assert_documents(
    actual: dict[Key, dict[str, Any]], expected: dict[Key, dict[str, Any]]
) -> None:
    assert set(actual) == set(expected)
    for key, doc in expected.items():
        assert actual[key] == doc, key


GROUND = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@GROUND
@given(st.integers(0, 10**6), st.integers(1, 5), st.integers(1, 150))
def test_contract_order_fold_equals_the_ground_truth(seed: int, agents: int, minutes: int) -> None:
    sc = scenario(seed, agents, minutes)
    streams = route(parse_event(raw) for raw in sc.events)
    actual = {key: folded(*key, events) for key, events in streams.items()}
    assert_documents(actual, truth(sc))


@GROUND
@given(
    st.integers(0, 10**6),
    st.integers(1, 4),
    st.integers(1, 90),
    st.randoms(use_true_random=False),
)
def test_shuffled_and_duplicated_delivery_equals_the_ground_truth(
    seed: int, agents: int, minutes: int, rnd: random.Random
) -> None:
    sc = scenario(seed, agents, minutes)
    events = [parse_event(raw) for raw in sc.events]
    copies = rnd.sample(events, k=len(events) // 5)
    arrivals = events + copies
    rnd.shuffle(arrivals)
    # processing time moves on irregularly, sometimes past the flush timeout
    now, schedule = 0, []
    for event in arrivals:
        now += rnd.choice([0, 1, 10, 500, 2_500])
        schedule.append((now, event))
    logs, out = deliver(schedule)
    assert out.conflicts == ()
    assert out.beyond_horizon == ()
    assert_documents({key: projection(log) for key, log in logs.items()}, truth(sc))


@GROUND
@given(st.integers(0, 10**6), st.integers(1, 4), st.integers(10, 120))
def test_a_damaged_webhook_delivery_equals_the_ground_truth(
    seed: int, agents: int, minutes: int
) -> None:
    sc = scenario(seed, agents, minutes)
    delivery = damage(
        sc.events,
        DamageConfig(
            seed=seed,
            shuffle_window_ms=8_000,
            duplicate_fraction=0.1,
            late_fraction=0.05,
            late_delay_ms=90_000,
        ),
    )
    schedule = [(at, parse_event(raw, received_at=at)) for at, raw in delivery.deliveries]
    logs, _ = deliver(schedule)
    assert_documents({key: projection(log) for key, log in logs.items()}, truth(sc))


def test_the_damaged_delivery_exercises_late_and_duplicate_handling() -> None:
    sc = scenario(seed=7, agents=4, minutes=120)
    delivery = damage(
        sc.events,
        DamageConfig(seed=7, shuffle_window_ms=8_000, duplicate_fraction=0.1, late_fraction=0.05),
    )
    schedule = [(at, parse_event(raw, received_at=at)) for at, raw in delivery.deliveries]
    logs, out = deliver(schedule)
    assert len(out.late) > 10
    assert len(out.duplicates) >= len(delivery.duplicated)
    assert_documents({key: projection(log) for key, log in logs.items()}, truth(sc))


def second_source_scenario(seed: int, agents: int, minutes: int) -> Scenario:
    """Conferences common, and in each the consulted agent reports `conferencing` in the
    same ms as the agent who started it (two legs of one task, one state, one instant)."""
    return generate(
        ScenarioConfig(
            seed=seed, agents=max(2, agents), teams=1, queues=2,
            duration_ms=minutes * MINUTE_MS, consult_probability=0.5,
            conference_probability=0.5, shared_conference_probability=1.0,
        )
    )  # fmt: skip


SECOND_SOURCE = {"twin_fraction": 0.1, "conflict_fraction": 0.05, "duplicate_fraction": 0.05}


@GROUND
@given(st.integers(0, 10**6), st.integers(2, 4), st.integers(30, 120))
def test_twins_from_a_second_source_and_conflicts_equal_the_ground_truth(
    seed: int, agents: int, minutes: int
) -> None:
    sc = second_source_scenario(seed, agents, minutes)
    delivery = damage(sc.events, DamageConfig(seed=seed, shuffle_window_ms=8_000, **SECOND_SOURCE))
    schedule = [(at, parse_event(raw, received_at=at)) for at, raw in delivery.deliveries]
    logs, out = deliver(schedule)
    assert_documents({key: projection(log) for key, log in logs.items()}, truth(sc))
    # every conflicting copy is refused (once per stream it feeds), never folded
    assert {c.rejected.ce_id for c in out.conflicts} == set(delivery.conflicted)


def test_the_second_source_delivery_exercises_twins_conflicts_and_shared_instants() -> None:
    sc = second_source_scenario(seed=3, agents=4, minutes=240)
    legs: dict[tuple[str, int, str], set[str]] = defaultdict(set)
    for raw in sc.events:
        data = raw["data"]
        if raw["type"] == "agent:state_change" and data.get("taskId"):
            legs[data["taskId"], data["createdTime"], data["currentState"]].add(data["agentId"])
    assert any(len(agents) > 1 for agents in legs.values()), "no two legs share an instant"
    delivery = damage(sc.events, DamageConfig(seed=3, shuffle_window_ms=8_000, **SECOND_SOURCE))
    assert delivery.twinned
    assert delivery.conflicted
    schedule = [(at, parse_event(raw, received_at=at)) for at, raw in delivery.deliveries]
    logs, out = deliver(schedule)
    assert len(out.conflicts) >= len(delivery.conflicted)
    # each twin was dropped for its original (on arrival, or when the original came later)
    kept_over_a_twin = {
        d.kept.ce_id for d in out.duplicates if d.reason is not DuplicateReason.SAME_ID
    }
    assert set(delivery.twinned) <= kept_over_a_twin
    assert_documents({key: projection(log) for key, log in logs.items()}, truth(sc))


SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "json"


@pytest.mark.parametrize(
    ("kind", "schema"),
    [
        (EntityKind.AGENT, "projection.agent-state.schema.json"),
        (EntityKind.TASK, "projection.task-lifecycle.schema.json"),
    ],
)
def test_documents_satisfy_the_projection_json_schemas(kind: EntityKind, schema: str) -> None:
    validator = jsonschema.Draft202012Validator(json.loads((SCHEMAS / schema).read_text()))
    sc = scenario(seed=3, agents=4, minutes=180)
    streams = route(parse_event(raw) for raw in sc.events)
    docs = [folded(k, entity_id, events) for (k, entity_id), events in streams.items() if k is kind]
    if kind is EntityKind.AGENT:
        docs.append(agent_document(initial_agent_state("a")))
    else:
        docs.append(task_document(initial_task("t")))
    assert len(docs) > 4
    for doc in docs:
        errors = [e.message for e in validator.iter_errors(doc)]
        assert errors == [], doc
