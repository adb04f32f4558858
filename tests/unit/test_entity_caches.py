"""The log's derived caches (checkpoints, the recent projection, pending events, the index)
always agree with the held rows, whatever the delivery, decoding and pruning."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.unit.event_builders import AGENT, agent_event
from tests.unit.log_store import stored
from tests.unit.test_entity_properties import ENTITY, Case, bounded_cases, cases
from wxcc_stream.processors.core.log import EntityLog, new_log, projection
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.step import accept, accept_many, release_due
from wxcc_stream.projections import agent_document, evolve_agent, fold, initial_agent_state
from wxcc_stream.projections.registry import KINDS, ProjectionState
from wxcc_stream.schemas.event import EntityKind


def assert_caches_agree(log: EntityLog) -> None:
    spec = KINDS[log.kind]
    held = [h.event for h in log.history]
    base = log.base.revision

    def after(revision: int) -> ProjectionState:
        return fold(held[: revision - base], log.base, spec.evolve)

    assert log.state == fold(held, log.base, spec.evolve)
    # kept in ascending order: pruning and refolding look only at the ends
    assert list(log.checkpoints) == sorted(log.checkpoints)
    # the stored layout covers the history's oldest events, the tail the rest
    assert log.sealed == sum(c.size - c.skip for c in log.chunks) <= len(log.history)
    for revision, state in log.checkpoints.items():
        assert base < revision <= base + len(held)
        assert state == after(revision), revision
    if log.recent is not None:
        assert base < log.recent.revision <= base + len(held)
        assert log.recent == after(log.recent.revision)
    buffered = {h.key: h for h in log.buffer}
    for key, event in log.pending.items():
        assert buffered[key].event == event
    assert dict(log.index) == {h.ref: h for h in (*log.history, *log.buffer)}


def replay(case: Case) -> None:
    log = new_log(case.kind, ENTITY[case.kind])
    now = 0
    for batch, gap, tick, trip in zip(
        case.deliveries, case.gaps, case.ticks, case.round_trips, strict=True
    ):
        now += gap
        log, _ = accept_many(log, batch, now_ms=now, policy=case.policy)
        assert_caches_agree(log)
        if tick is not None:
            log, _ = release_due(log, now_ms=now + tick, policy=case.policy)
            assert_caches_agree(log)
        if trip:
            log = stored(log)
            assert_caches_agree(log)
    log, _ = release_due(log, now_ms=now + 10**6, policy=case.policy)
    assert_caches_agree(log)


PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(cases())
def test_the_caches_agree_with_the_rows(case: Case) -> None:
    replay(case)


@PROPERTY
@given(bounded_cases())
def test_the_caches_agree_with_the_rows_while_pruning(case: Case) -> None:
    replay(case)


def test_a_late_event_just_before_the_newest_refolds_from_the_recent_projection() -> None:
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=10**9)
    states = ["available", "idle"] * 10
    events = [
        agent_event("agent:state_change", t, f"e{t:02d}", currentState=s)
        for t, s in enumerate(states, 1)
    ]
    log = new_log(EntityKind.AGENT, AGENT)
    for event in events:
        log, _ = accept(log, event, now_ms=0, policy=policy)
    assert log.recent == fold(events[:-1], initial_agent_state(AGENT), evolve_agent)
    late = agent_event("agent:state_change", 19, "e19x", currentState="on-hold")
    log, out = accept(log, late, now_ms=0, policy=policy)
    assert out.late == (late,)
    expected = [*events[:-1], late, events[-1]]
    assert projection(log) == agent_document(
        fold(expected, initial_agent_state(AGENT), evolve_agent)
    )
    assert_caches_agree(log)
