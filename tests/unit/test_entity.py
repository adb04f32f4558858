"""The per-entity log: reorder buffer, late correction, dedupe, conflicts, horizon, codec."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from tests.unit.event_builders import AGENT, TASK, agent_event, leg_event, task_event
from tests.unit.log_store import stored
from wxcc_stream.processors.core.log import (
    EntityLog,
    held_count,
    new_log,
    projection,
    projection_bytes,
)
from wxcc_stream.processors.core.outcome import BeyondReason, DuplicateReason, Outcome
from wxcc_stream.processors.core.policy import Policy, PolicyError
from wxcc_stream.processors.core.refold import CHECKPOINT_EVERY
from wxcc_stream.processors.core.step import accept, accept_many, drain, next_wakeup_ms, release_due
from wxcc_stream.processors.storage.log_value import LogDecodeError, decode_log, encode_log
from wxcc_stream.projections import (
    agent_document,
    document_bytes,
    evolve_agent,
    evolve_task,
    fold,
    initial_agent_state,
    initial_task,
    task_document,
)
from wxcc_stream.schemas.event import EntityKind, Event, TimeSource

POLICY = Policy(grace_ms=1_000, flush_timeout_ms=1_000, horizon_ms=10_000)


def change(state: str, t: int, ce_id: str = "", **data: Any) -> Event:
    return agent_event("agent:state_change", t, ce_id or f"sc-{t}", currentState=state, **data)


def agent_log() -> EntityLog:
    return new_log(EntityKind.AGENT, AGENT)


def task_log() -> EntityLog:
    return new_log(EntityKind.TASK, TASK)


def feed(
    log: EntityLog, events: Sequence[Event], now_ms: int = 0, policy: Policy = POLICY
) -> tuple[EntityLog, Outcome]:
    """Accept events one call each at `now_ms`, combining the outcomes."""
    total = Outcome()
    for event in events:
        log, outcome = accept(log, event, now_ms=now_ms, policy=policy)
        total = total.then(outcome)
    return log, total


def log_events(log: EntityLog) -> list[Event]:
    return [h.event for h in log.history]


def ids(events: Sequence[Event]) -> list[str]:
    return [e.ce_id for e in events]


def agent_bytes(events: Sequence[Event]) -> bytes:
    """The expected document: the events folded in an order written out by the test."""
    return document_bytes(agent_document(fold(events, initial_agent_state(AGENT), evolve_agent)))


LOGIN = agent_event("agent:login", 0, "e0", currentState="idle")
AVAILABLE = change("available", 100, "e1")
RINGING = change("ringing", 200, "e2", taskId="t1")
CONNECTED = change("connected", 300, "e3", taskId="t1")
WRAPUP = change("wrapup", 400, "e4", taskId="t1")
SESSION = [LOGIN, AVAILABLE, RINGING, CONNECTED, WRAPUP]


# ---------------------------------------------------------------- reorder buffer


def test_events_wait_for_the_watermark_to_pass_them_by_the_grace() -> None:
    policy = Policy(grace_ms=150, flush_timeout_ms=1_000, horizon_ms=10_000)
    log, out = feed(agent_log(), [LOGIN, AVAILABLE], policy=policy)
    assert out.released == ()
    assert not out.changed
    assert projection(log)["revision"] == 0
    log, out = accept(log, RINGING, now_ms=0, policy=policy)  # watermark 200: up to 50 is due
    assert ids(out.released) == ["e0"]
    log, out = accept(log, change("idle", 250, "e25"), now_ms=0, policy=policy)  # up to 100
    assert ids(out.released) == ["e1"]
    assert out.changed
    assert projection(log)["state"] == "available"
    assert [h.event.ce_id for h in log.buffer] == ["e2", "e25"]


def test_the_buffer_releases_in_contract_order() -> None:
    shuffled = [CONNECTED, LOGIN, RINGING, AVAILABLE]
    log, out = feed(agent_log(), shuffled)
    assert out.released == ()
    log, out = accept(log, change("idle", 5_000, "e9"), now_ms=0, policy=POLICY)
    assert ids(out.released) == ["e0", "e1", "e2", "e3"]
    assert out.late == ()


def test_same_time_events_release_by_tiebreak_then_id() -> None:
    logout = agent_event("agent:logout", 50, "a")
    login = agent_event("agent:login", 50, "z")
    second = change("idle", 50, "m")
    first = change("available", 50, "b")
    log, _ = feed(agent_log(), [logout, second, login, first])
    log, out = drain(log, policy=POLICY)
    assert ids(out.released) == ["z", "b", "m", "a"]


def test_a_quiet_entity_flushes_after_the_timeout() -> None:
    log, _ = feed(agent_log(), [LOGIN, AVAILABLE], now_ms=5_000)
    assert log.buffer
    assert next_wakeup_ms(log, policy=POLICY) == 6_000
    same, out = release_due(log, now_ms=5_999, policy=POLICY)
    assert same is log
    assert out == Outcome()
    log, out = release_due(log, now_ms=6_000, policy=POLICY)
    assert ids(out.released) == ["e0", "e1"]
    assert log.buffer == ()
    assert projection_bytes(log) == agent_bytes([LOGIN, AVAILABLE])


def test_a_timed_out_event_takes_the_earlier_ones_with_it() -> None:
    log, _ = accept(agent_log(), RINGING, now_ms=0, policy=POLICY)
    log, _ = accept(log, AVAILABLE, now_ms=900, policy=POLICY)  # sorts first, arrived later
    log, out = release_due(log, now_ms=1_000, policy=POLICY)  # RINGING waited 1 s
    assert ids(out.released) == ["e1", "e2"]


def test_grace_zero_releases_up_to_the_watermark_at_once() -> None:
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=10_000)
    _, out = feed(agent_log(), [LOGIN, RINGING], policy=policy)
    assert ids(out.released) == ["e0", "e2"]


# ---------------------------------------------------------------- late events


def test_a_late_event_recomputes_the_projection_with_a_higher_revision() -> None:
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=10_000)
    log, _ = feed(agent_log(), [LOGIN, RINGING, CONNECTED, WRAPUP], policy=policy)
    before = projection(log)
    assert before["revision"] == 4
    log, out = accept(log, AVAILABLE, now_ms=0, policy=policy)
    assert ids(out.late) == ["e1"]
    assert out.released == ()
    assert out.changed
    assert out.recomputed
    after = projection(log)
    assert after["revision"] == 5
    assert after["timeInState"] != before["timeInState"]
    assert projection_bytes(log) == agent_bytes(SESSION)


def test_late_then_in_order_events_continue_from_the_corrected_state() -> None:
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=10_000)
    log, _ = feed(agent_log(), [LOGIN, RINGING], policy=policy)
    log, _ = feed(log, [AVAILABLE, CONNECTED, WRAPUP], policy=policy)
    assert projection_bytes(log) == agent_bytes(SESSION)


# ---------------------------------------------------------------- duplicates


def test_a_same_id_duplicate_is_dropped_and_changes_nothing() -> None:
    log, _ = feed(agent_log(), SESSION)
    log, _ = drain(log, policy=POLICY)
    again = change("connected", 300, "e3", taskId="t1")
    same, out = accept(log, again, now_ms=0, policy=POLICY)
    assert [(d.event, d.kept, d.reason) for d in out.duplicates] == [
        (again, CONNECTED, DuplicateReason.SAME_ID)
    ]
    assert not out.changed
    assert same == log


def test_a_same_id_duplicate_still_buffered_is_dropped() -> None:
    log, out = feed(agent_log(), [LOGIN, LOGIN])
    assert len(out.duplicates) == 1
    assert held_count(log) == 1


def test_a_redelivery_with_an_inferred_time_is_a_duplicate() -> None:
    def inferred(received: int) -> Event:
        return Event(
            entity_kind=EntityKind.AGENT,
            entity_id=AGENT,
            type="agent:logout",
            created_time=received,
            ce_id="no-time",
            ce_source="/s",
            org_id=None,
            data={"agentId": AGENT},
            time_source=TimeSource.RECEIVED_AT,
            received_at=received,
        )

    _, out = feed(agent_log(), [inferred(1_000), inferred(1_450)])
    assert [d.reason for d in out.duplicates] == [DuplicateReason.SAME_ID]
    assert out.conflicts == ()


RECONCILED = change("available", 100, "0-reconciled", idleCodeId="from-api")  # id sorts first
WEBHOOK = change("available", 100, "e1", idleCodeId="from-webhook")


@pytest.mark.parametrize("released_first", [False, True])
@pytest.mark.parametrize("order", ["webhook-first", "reconciled-first"])
def test_semantic_duplicates_keep_the_smaller_id_in_any_arrival_order(
    order: str, released_first: bool
) -> None:
    first, second = (WEBHOOK, RECONCILED) if order == "webhook-first" else (RECONCILED, WEBHOOK)
    policy = Policy(
        grace_ms=0 if released_first else 100, flush_timeout_ms=1_000, horizon_ms=10_000
    )
    log, out = feed(agent_log(), [LOGIN, first, RINGING, second], policy=policy)
    log, rest = drain(log, policy=policy)
    out = out.then(rest)
    assert projection(log)["idleCodeId"] == "from-api"
    assert projection_bytes(log) == agent_bytes([LOGIN, RECONCILED, RINGING])
    assert len(out.duplicates) == 1
    dropped = out.duplicates[0]
    assert (dropped.event, dropped.kept) == (WEBHOOK, RECONCILED)
    expected = DuplicateReason.SEMANTIC if first is RECONCILED else DuplicateReason.SUPERSEDED
    assert dropped.reason is expected
    assert held_count(log) == 3


def test_a_superseded_event_already_released_is_corrected_without_a_revision_dip() -> None:
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=10_000)
    log, _ = feed(agent_log(), [LOGIN, WEBHOOK], policy=policy)
    assert projection(log)["revision"] == 2
    log, out = accept(log, RECONCILED, now_ms=0, policy=policy)
    assert ids(out.late) == ["0-reconciled"]
    assert out.changed
    assert projection(log)["revision"] == 2
    assert projection(log)["lastEventId"] == "0-reconciled"


def test_superseding_pulls_buffered_events_that_sort_before_it() -> None:
    # same time and type, so the same identity; their ids order them around a buffered event
    kept = change("idle", 100, "b-id", source="/z")
    better = change("idle", 100, "d-id", source="/a")  # smaller (source, id), larger id
    between = change("available", 100, "c-id", source="/m")
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=10_000)
    log, _ = feed(agent_log(), [LOGIN, kept], policy=policy)
    log, _ = accept(log, between, now_ms=0, policy=Policy(grace_ms=50, flush_timeout_ms=1_000))
    assert [h.event.ce_id for h in log.buffer] == ["c-id"]
    log, out = accept(log, better, now_ms=0, policy=policy)
    assert ids(out.released) == ["c-id"]
    assert ids(out.late) == ["d-id"]
    assert [h.event.ce_id for h in log.history] == ["e0", "c-id", "d-id"]
    assert projection_bytes(log) == agent_bytes([LOGIN, between, better])


# ---------------------------------------------------------------- conflicts


def test_a_conflict_keeps_the_first_version_and_reports_both() -> None:
    first = change("available", 100, "dup", idleCodeId="one")
    other = change("available", 100, "dup", idleCodeId="two")
    log, out = feed(agent_log(), [LOGIN, first, other])
    log, _ = drain(log, policy=POLICY)
    assert [(c.kept, c.rejected) for c in out.conflicts] == [(first, other)]
    assert out.duplicates == ()
    assert projection(log)["idleCodeId"] == "one"
    assert projection(log)["revision"] == 2


def test_a_conflict_in_time_is_reported_too() -> None:
    first = change("available", 100, "dup")
    moved = change("available", 150, "dup")
    _, out = feed(agent_log(), [first, moved])
    assert [(c.kept, c.rejected) for c in out.conflicts] == [(first, moved)]


# ---------------------------------------------------------------- horizon


def test_history_older_than_the_horizon_is_pruned_into_the_base() -> None:
    policy = Policy(
        grace_ms=0, flush_timeout_ms=1_000, horizon_ms=1_000, prune_at_checkpoints=False
    )
    log, _ = feed(agent_log(), SESSION, policy=policy)
    assert held_count(log) == 5
    later = change("idle", 1_250, "e5")
    log, _ = accept(log, later, now_ms=0, policy=policy)
    # floor = 1250 - 1000: events before 250 are folded into the base and forgotten
    assert log.floor == 250
    assert [h.event.ce_id for h in log.history] == ["e3", "e4", "e5"]
    assert set(log.index) == {(h.event.ce_source, h.event.ce_id) for h in log.history}
    assert projection_bytes(log) == agent_bytes([*SESSION, later])
    # a late event inside the retained history is still corrected from the base
    inside = change("on-hold", 350, "e35", taskId="t1")
    log, out = accept(log, inside, now_ms=0, policy=policy)
    assert ids(out.late) == ["e35"]
    assert projection_bytes(log) == agent_bytes([*SESSION[:4], inside, WRAPUP, later])


def test_pruning_steps_end_at_checkpoints_and_do_not_depend_on_the_cache() -> None:
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=1_000)
    session = [LOGIN] + [
        change("idle" if t % 2 else "available", 100 * t, f"e{t:02d}") for t in range(1, 40)
    ]
    cached = uncached = agent_log()
    for event in session:
        cached, _ = accept(cached, event, now_ms=0, policy=policy)
        uncached, _ = accept(stored(uncached), event, now_ms=0, policy=policy)
        assert uncached == cached  # the same decision without the cached checkpoints
        past_floor = [h for h in cached.history if h.key[0] < (cached.floor or 0)]
        assert len(past_floor) < CHECKPOINT_EVERY
        assert cached.base.revision % CHECKPOINT_EVERY == 0
    # the floor (3,900 - 1,000) passed 29 events: the first 16 (up to the checkpoint at
    # revision 16) are forgotten, 13 wait for the next checkpoint
    assert cached.floor == 2_900
    assert cached.base.revision == 16
    assert len(cached.history) == 40 - 16
    assert cached.base == fold(session[:16], initial_agent_state(AGENT), evolve_agent)
    assert projection_bytes(cached) == agent_bytes(session)
    # exact pruning, for comparison: every event before the floor is forgotten at once
    exact = replace(policy, prune_at_checkpoints=False)
    log, _ = feed(agent_log(), session, policy=exact)
    assert [h.key[0] >= (log.floor or 0) for h in log.history] == [True] * len(log.history)
    assert projection_bytes(log) == projection_bytes(cached)


def test_a_late_event_before_every_retained_one_refolds_from_the_base() -> None:
    policy = Policy(
        grace_ms=0, flush_timeout_ms=1_000, horizon_ms=1_000, prune_at_checkpoints=False
    )
    later = change("idle", 1_250, "e5")
    log, _ = feed(agent_log(), [*SESSION, later], policy=policy)
    assert log.floor == 250
    assert log.history[0].event == CONNECTED
    first = change("on-hold", 260, "e26", taskId="t1")  # after the floor, before CONNECTED
    for start in (log, stored(log)):  # with and without cached states
        after, out = accept(start, first, now_ms=0, policy=policy)
        assert ids(out.late) == ["e26"]
        assert projection_bytes(after) == agent_bytes([*SESSION[:3], first, *SESSION[3:], later])


def test_folded_events_cache_the_state_after_them_at_checkpoints() -> None:
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=10**9)
    session = [change("idle" if t % 2 else "available", t, f"e{t:02d}") for t in range(1, 40)]
    log = agent_log()
    for event in session:
        log, _ = accept(log, event, now_ms=0, policy=policy)
    log, _ = accept(log, change("on-hold", 5, "x"), now_ms=0, policy=policy)  # late
    held = log_events(log)
    assert set(log.checkpoints) == set(range(CHECKPOINT_EVERY, len(held) + 1, CHECKPOINT_EVERY))
    for revision, state in log.checkpoints.items():
        assert state == fold(held[:revision], initial_agent_state(AGENT), evolve_agent)


def test_an_event_older_than_the_retained_history_is_reported_with_context() -> None:
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=1_000)
    log, _ = feed(agent_log(), [*SESSION, change("idle", 1_250, "e5")], policy=policy)
    ancient = change("not-responding", 150, "old")
    same, out = accept(log, ancient, now_ms=0, policy=policy)
    assert same == log
    assert not out.changed
    (beyond,) = out.beyond_horizon
    assert (beyond.event, beyond.kind, beyond.entity_id) == (ancient, EntityKind.AGENT, AGENT)
    assert (beyond.watermark, beyond.floor, beyond.behind_ms) == (1_250, 250, 1_100)
    assert beyond.reason is BeyondReason.HORIZON
    assert "1100 ms behind" in beyond.describe()
    assert AGENT in beyond.describe()
    # even an exact duplicate of a pruned event cannot be recognised any more
    _, out = accept(log, LOGIN, now_ms=0, policy=policy)
    assert len(out.beyond_horizon) == 1


def test_an_ended_task_keeps_only_its_final_projection_after_the_horizon() -> None:
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=60_000)
    events = [
        task_event("task:new", 0, "n"),
        task_event("task:connected", 50, "c"),
        task_event("task:ended", 500, "x"),
    ]
    log, _ = feed(task_log(), events, now_ms=1_000, policy=policy)
    final = projection_bytes(log)
    assert next_wakeup_ms(log, policy=policy) == 61_000
    same, out = release_due(log, now_ms=60_999, policy=policy)
    assert same is log
    log, out = release_due(log, now_ms=61_000, policy=policy)
    assert out.compacted
    assert not out.changed
    assert (log.history, log.buffer, dict(log.index)) == ((), (), {})
    assert projection_bytes(log) == final
    assert next_wakeup_ms(log, policy=policy) is None
    # a capture after the end still lands on the final projection
    capture = task_event("capture:available", 900, "cap", filePath="/r.wav")
    log, _ = accept(log, capture, now_ms=62_000, policy=policy)
    assert projection(log)["captures"] == ["/r.wav"]
    assert projection(log)["revision"] == 4
    # an event from before the end can no longer be placed
    _, out = accept(log, task_event("task:on-hold", 100, "h"), now_ms=62_000, policy=policy)
    assert [b.reason for b in out.beyond_horizon] == [BeyondReason.COMPACTED]


def test_a_compacted_entity_refuses_events_at_its_last_time() -> None:
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=60_000)
    events = [task_event("task:new", 0, "n"), task_event("task:ended", 500, "x")]
    log, _ = feed(task_log(), events, policy=policy)
    log, out = release_due(log, now_ms=60_000, policy=policy)
    assert out.compacted
    # it would sort before task:ended, which is no longer there to refold after it
    same_time = task_event("task:connected", 500, "c")
    _, out = accept(log, same_time, now_ms=60_001, policy=policy)
    assert [b.reason for b in out.beyond_horizon] == [BeyondReason.COMPACTED]


def test_an_open_task_is_not_compacted() -> None:
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=60_000)
    log, _ = feed(task_log(), [task_event("task:new", 0, "n")], policy=policy)
    same, out = release_due(log, now_ms=10**9, policy=policy)
    assert same is log
    assert not out.compacted


def test_a_logged_out_agent_is_compacted() -> None:
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=60_000)
    logout = agent_event("agent:logout", 900, "out")
    log, _ = feed(agent_log(), [*SESSION, logout], policy=policy)
    log, out = release_due(log, now_ms=60_000, policy=policy)
    assert out.compacted
    assert projection_bytes(log) == agent_bytes([*SESSION, logout])


# ---------------------------------------------------------------- unknown types


def test_unknown_types_are_released_and_counted() -> None:
    odd = task_event("task:brand-new", 20, "odd", queueId="q9")
    log, _ = feed(task_log(), [task_event("task:new", 0, "n", queueId="q1"), odd])
    log, out = drain(log, policy=POLICY)
    assert ids(out.released) == ["n", "odd"]
    doc = projection(log)
    assert (doc["revision"], doc["queueId"], doc["lastEventId"]) == (2, "q1", "odd")


def test_a_leg_is_folded_in_the_task_stream() -> None:
    events = [task_event("task:connected", 10, "c"), leg_event("connected", 10, "l")]
    log, _ = feed(task_log(), list(reversed(events)))
    log, out = drain(log, policy=POLICY)
    assert ids(out.released) == ["c", "l"]  # task:connected ranks before a leg
    expected = task_document(fold(events, initial_task(TASK), evolve_task))
    assert projection(log) == expected


# ---------------------------------------------------------------- batches and codec


def test_a_batch_gives_the_same_projection_as_single_events() -> None:
    shuffled = [WRAPUP, LOGIN, CONNECTED, AVAILABLE, RINGING, LOGIN]
    one, _ = feed(agent_log(), shuffled)
    many, out = accept_many(agent_log(), shuffled, now_ms=0, policy=POLICY)
    assert many == one
    assert len(out.duplicates) == 1


def test_the_codec_round_trip_is_exact_and_the_log_carries_on() -> None:
    policy = Policy(
        grace_ms=100, flush_timeout_ms=1_000, horizon_ms=1_000, prune_at_checkpoints=False
    )
    log, _ = feed(agent_log(), [*SESSION, change("idle", 1_250, "e5")], now_ms=7, policy=policy)
    log, _ = accept(log, change("available", 1_200, "e6", idleCodeId=None), now_ms=9, policy=policy)
    assert log.buffer  # something of everything: base, history, buffer, floor
    assert log.history
    assert log.base != initial_agent_state(AGENT)
    raw = encode_log(log)
    back = decode_log(raw)
    assert back == log
    assert encode_log(back) == raw
    assert back.index == log.index
    assert [h.event for h in back.history] == [h.event for h in log.history]
    nxt = change("ringing", 1_400, "e7", taskId="t2")
    assert accept(back, nxt, now_ms=10, policy=policy) == accept(log, nxt, now_ms=10, policy=policy)


def test_the_codec_round_trips_a_task_log() -> None:
    events = [
        task_event("task:new", 0, "n", outboundType=None),
        task_event("task:on-hold", 20, "h"),
        leg_event("wrapup", 30, "l", wrapUpAuxCodeId="w"),
        task_event("capture:available", 40, "c", filePath="/x"),
    ]
    log, _ = feed(task_log(), events)
    log, _ = drain(log, policy=POLICY)
    log, _ = accept(log, task_event("task:ended", 50, "e"), now_ms=3, policy=POLICY)
    assert stored(log) == log


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[]", b'{"format": 99}', b'{"format": 1, "kind": "agent"}'],
)
def test_decoding_rejects_what_is_not_a_log(raw: bytes) -> None:
    with pytest.raises(LogDecodeError):
        decode_log(raw)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"grace_ms": -1},
        {"flush_timeout_ms": 0},
        {"grace_ms": 5_000, "horizon_ms": 5_000},
    ],
)
def test_policy_rejects_values_that_cannot_work(kwargs: dict[str, int]) -> None:
    with pytest.raises(PolicyError):
        Policy(**kwargs)


def test_the_input_log_is_never_changed() -> None:
    log, _ = feed(agent_log(), [LOGIN, RINGING])
    snapshot = encode_log(log)
    accept(log, AVAILABLE, now_ms=0, policy=POLICY)
    accept(log, change("idle", 9_000, "x"), now_ms=0, policy=POLICY)
    release_due(log, now_ms=10**6, policy=POLICY)
    drain(log, policy=POLICY)
    assert encode_log(log) == snapshot
