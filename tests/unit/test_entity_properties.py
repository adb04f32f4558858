"""Properties of the per-entity log: any delivery of the same events gives the same bytes.

The oracle is written here from docs/projections.md, independently of `processors`: drop
repeated (source, id), keep the smallest (source, id) of each semantic identity, sort by
(createdTime, tiebreak, id), fold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace as replace_event

from tests.unit.contract_ranks import AGENT_RANK, STATE_CHANGES, TASK_RANK
from tests.unit.log_store import stored
from wxcc_stream.processors.core.log import EntityLog, new_log, projection_bytes
from wxcc_stream.processors.core.outcome import Outcome
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.step import accept_many, release_due
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
from wxcc_stream.schemas.event import EntityKind, Event

ENTITY = {EntityKind.AGENT: "agent-p", EntityKind.TASK: "task-p"}
SOURCES = ["/com/cisco/wxcc/sub-a", "/com/cisco/wxcc/sub-b", "/reconcile"]
AGENT_STATES = [
    "idle",
    "Available",
    "ringing",
    "connected",
    "on-hold",
    "hold-done",
    "consulting",
    "consult-done",
    "conferencing",
    "conference-done",
    "wrapup",
    "wrapup-done",
    "not-responding",
    "logged-out",
]
# the contract's tiebreak table as the tests restate it, so the oracle does not share the code's
RANKS = {EntityKind.AGENT: AGENT_RANK, EntityKind.TASK: TASK_RANK}
AGENT_TYPES = [*RANKS[EntityKind.AGENT], "agent:future"]
TASK_TYPES = [*RANKS[EntityKind.TASK], "task:future"]
TIMES = st.integers(0, 40).map(lambda n: n * 50)  # coarse, so ties are common


def optional(data: dict[str, Any], key: str, values: Sequence[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(data), st.sampled_from(values).map(lambda v: {**data, key: v}))


@st.composite
def agent_data(draw: st.DrawFn, type_: str) -> dict[str, Any]:
    data: dict[str, Any] = {"agentId": ENTITY[EntityKind.AGENT]}
    if type_ != "agent:logout" and draw(st.booleans()):
        data["currentState"] = draw(st.sampled_from(AGENT_STATES))
    data = draw(optional(data, "taskId", ["t1", "t2"]))
    data = draw(optional(data, "idleCodeId", ["i1", "i2", None]))
    return draw(optional(data, "teamId", ["team-1", None]))


@st.composite
def task_data(draw: st.DrawFn, type_: str) -> tuple[EntityKind, str, dict[str, Any]]:
    task = ENTITY[EntityKind.TASK]
    if type_ in STATE_CHANGES:
        agent = draw(st.sampled_from(["ag-1", "ag-2"]))
        data = {"agentId": agent, "taskId": task}
        data["currentState"] = draw(st.sampled_from(AGENT_STATES))
        data = draw(optional(data, "wrapUpAuxCodeId", ["w1", None]))
        return EntityKind.AGENT, agent, data
    data = {"taskId": task}
    if type_ == "capture:available":
        data["filePath"] = draw(st.sampled_from(["/r/a.wav", "/r/b.wav"]))
    data = draw(optional(data, "queueId", ["q1", "q2", None]))
    data = draw(optional(data, "outboundType", ["CALLBACK", None]))
    data = draw(optional(data, "reason", ["done", None]))
    return EntityKind.TASK, task, data


@st.composite
def an_event(draw: st.DrawFn, kind: EntityKind, ce_id: str) -> Event:
    source = draw(st.sampled_from(SOURCES))
    t = draw(TIMES)
    org = draw(st.sampled_from(["org-1", "org-2", None]))
    own_kind: EntityKind
    if kind is EntityKind.AGENT:
        type_ = draw(st.sampled_from(AGENT_TYPES))
        own_kind, own_id, data = kind, ENTITY[kind], draw(agent_data(type_))
    else:
        type_ = draw(st.sampled_from(TASK_TYPES))
        own_kind, own_id, data = draw(task_data(type_))
    return Event(own_kind, own_id, type_, t, ce_id, source, org, data)


def identity_state(event: Event) -> str:
    """The contract's `state`: agent id and lower-cased state for agent events (two agents'
    legs of one task can reach one state in the same ms), the file path for a capture."""
    if event.type.startswith("agent:"):
        state = event.data.get("currentState")
        agent = event.data.get("agentId")
        return (
            f"{agent if isinstance(agent, str) else ''}/"
            f"{state.lower() if isinstance(state, str) else ''}"
        )
    if event.type == "capture:available":
        return str(event.data.get("filePath", ""))
    return ""


@st.composite
def twin_of(draw: st.DrawFn, event: Event, ce_id: str) -> Event:
    """A semantically equal event with another (source, id) and possibly other details."""
    data = dict(event.data)
    for key in ("idleCodeId", "queueId", "wrapUpAuxCodeId", "reason"):
        if draw(st.booleans()):
            data[key] = draw(st.sampled_from(["x1", "x2", None]))
    source = draw(st.sampled_from(SOURCES))
    return replace_event(event, ce_id=ce_id, ce_source=source, data=data, reconciled=True)


@dataclass(frozen=True)
class Case:
    kind: EntityKind
    distinct: tuple[Event, ...]  # one per (source, id)
    deliveries: tuple[tuple[Event, ...], ...]  # batches, in arrival order
    gaps: tuple[int, ...]  # processing time advanced before each batch
    ticks: tuple[int | None, ...]  # release_due this long after the batch, or not
    round_trips: tuple[bool, ...]  # encode/decode the log after the batch
    policy: Policy


@st.composite
def cases(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from([EntityKind.AGENT, EntityKind.TASK]))
    count = draw(st.integers(1, 18))
    # ids are random but unique; their order is unrelated to the arrival order
    names = draw(st.lists(st.integers(0, 999), min_size=2 * count, max_size=2 * count, unique=True))
    events = [draw(an_event(kind, f"id-{names[i]:03d}")) for i in range(count)]
    twins = [
        draw(twin_of(event, f"id-{names[count + i]:03d}"))
        for i, event in enumerate(events)
        if draw(st.integers(0, 3)) == 0
    ]
    distinct = events + twins
    copies = draw(st.lists(st.sampled_from(distinct), max_size=count))
    arrivals = draw(st.permutations(distinct + copies))
    sizes = draw(st.lists(st.integers(1, 4), min_size=len(arrivals), max_size=len(arrivals)))
    batches: list[tuple[Event, ...]] = []
    at = 0
    for size in sizes:
        if at >= len(arrivals):
            break
        batches.append(tuple(arrivals[at : at + size]))
        at += size
    n = len(batches)
    policy = Policy(
        grace_ms=draw(st.sampled_from([0, 50, 400, 5_000])),
        flush_timeout_ms=draw(st.sampled_from([1, 300, 5_000])),
        horizon_ms=10**9,
    )
    return Case(
        kind=kind,
        distinct=tuple(distinct),
        deliveries=tuple(batches),
        gaps=tuple(draw(st.lists(st.integers(0, 800), min_size=n, max_size=n))),
        ticks=tuple(
            draw(st.lists(st.one_of(st.none(), st.integers(0, 800)), min_size=n, max_size=n))
        ),
        round_trips=tuple(draw(st.lists(st.booleans(), min_size=n, max_size=n))),
        policy=policy,
    )


@st.composite
def bounded_cases(draw: st.DrawFn) -> Case:
    """A feed out of order by at most `disorder` ms, with processing time following the
    arrivals and a horizon longer than the disorder: history is pruned and quiet ended
    entities compacted along the way, yet nothing falls beyond the horizon."""
    case = draw(cases())
    disorder = draw(st.sampled_from([0, 100, 300]))
    horizon = disorder + draw(st.sampled_from([1, 50, 200]))
    grace = draw(st.integers(0, horizon - 1))
    events = [e for batch in case.deliveries for e in batch]
    jitter = draw(st.lists(st.integers(0, disorder), min_size=len(events), max_size=len(events)))
    arrivals = sorted(
        ((e.created_time + j, i) for i, (e, j) in enumerate(zip(events, jitter, strict=True)))
    )
    times = [at for at, _ in arrivals]
    gaps = [b - a for a, b in zip([0, *times], times, strict=False)]
    # a tick between two arrivals, never after the next one
    ticks = [draw(st.one_of(st.none(), st.integers(0, nxt))) for nxt in [*gaps[1:], 10**6]]
    return replace(
        case,
        deliveries=tuple((events[i],) for _, i in arrivals),
        gaps=tuple(gaps),
        ticks=tuple(ticks),
        round_trips=tuple(draw(st.lists(st.booleans(), min_size=len(gaps), max_size=len(gaps)))),
        policy=Policy(
            grace_ms=grace, flush_timeout_ms=case.policy.flush_timeout_ms, horizon_ms=horizon
        ),
    )


def sort_key(kind: EntityKind) -> Callable[[Event], tuple[int, int, str, str]]:
    def key(event: Event) -> tuple[int, int, str, str]:
        rank = RANKS[kind].get(event.type, 50)
        return (event.created_time, rank, event.ce_id, event.ce_source)

    return key


def identity(event: Event) -> tuple[str, int, str]:
    """The contract's semantic identity: events equal in it are one fact (twins)."""
    return (event.type, event.created_time, identity_state(event))


def canonical(kind: EntityKind, events: Sequence[Event]) -> list[Event]:
    """The distinct events the contract folds, in its order."""
    kept: dict[tuple[str, int, str], Event] = {}
    for event in events:
        ident = identity(event)
        other = kept.get(ident)
        if other is None or (event.ce_source, event.ce_id) < (other.ce_source, other.ce_id):
            kept[ident] = event
    return sorted(kept.values(), key=sort_key(kind))


def expected_bytes(kind: EntityKind, events: Sequence[Event]) -> bytes:
    ordered = canonical(kind, events)
    if kind is EntityKind.AGENT:
        agent = fold(ordered, initial_agent_state(ENTITY[kind]), evolve_agent)
        return document_bytes(agent_document(agent))
    task = fold(ordered, initial_task(ENTITY[kind]), evolve_task)
    return document_bytes(task_document(task))


def run(case: Case) -> tuple[EntityLog, Outcome]:
    log = new_log(case.kind, ENTITY[case.kind])
    total = Outcome()
    now = 0
    for batch, gap, tick, trip in zip(
        case.deliveries, case.gaps, case.ticks, case.round_trips, strict=True
    ):
        now += gap
        log, out = accept_many(log, batch, now_ms=now, policy=case.policy)
        total = total.then(out)
        if tick is not None:
            log, out = release_due(log, now_ms=now + tick, policy=case.policy)
            total = total.then(out)
        if trip:
            log = stored(log)
    # a quiet entity flushes by processing time alone
    log, out = release_due(log, now_ms=now + 10**6, policy=case.policy)
    return log, total.then(out)


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(cases())
def test_any_delivery_gives_the_bytes_of_the_sorted_fold(case: Case) -> None:
    log, out = run(case)
    assert log.buffer == ()
    assert projection_bytes(log) == expected_bytes(case.kind, case.distinct)
    assert out.conflicts == ()
    assert out.beyond_horizon == ()


@PROPERTY
@given(cases())
def test_released_events_are_sorted_and_complete_when_nothing_is_late(case: Case) -> None:
    _, out = run(case)
    key = sort_key(case.kind)
    # a released event that a late twin (same identity, smaller id) superseded is no longer
    # in the history: the events released after it follow the twin, which sorts earlier
    superseded = {identity(e) for e in out.late}
    keys = [key(e) for e in out.released if identity(e) not in superseded]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    if not out.late:
        assert list(out.released) == canonical(case.kind, case.distinct)


@PROPERTY
@given(cases(), st.randoms(use_true_random=False))
def test_two_deliveries_of_the_same_events_agree(case: Case, rnd: Any) -> None:
    first, _ = run(case)
    batches = list(case.deliveries)
    rnd.shuffle(batches)
    second, _ = run(replace(case, deliveries=tuple(reversed(batches))))
    assert projection_bytes(first) == projection_bytes(second)
    assert first.state == second.state


@PROPERTY
@given(bounded_cases())
def test_pruning_keeps_the_bytes_when_disorder_stays_within_the_horizon(case: Case) -> None:
    log, out = run(case)
    assert out.beyond_horizon == ()
    assert projection_bytes(log) == expected_bytes(case.kind, case.distinct)


@PROPERTY
@given(cases(), st.booleans())
def test_a_stalled_entity_holds_only_what_arrived_within_the_flush_timeout(
    case: Case, stalled: bool
) -> None:
    """The buffer is bounded by processing time: whatever the events' own times (stalled:
    a grace so long that event time never releases anything), after any step at `now` it
    holds only events that arrived less than flush_timeout before, so no more than arrived
    in that window."""
    policy = case.policy
    if stalled:
        policy = Policy(grace_ms=10**8, flush_timeout_ms=policy.flush_timeout_ms, horizon_ms=10**9)
    log = new_log(case.kind, ENTITY[case.kind])
    arrivals: list[int] = []
    now = 0

    def bounded(at: int) -> None:
        window = [a for a in arrivals if at - a < policy.flush_timeout_ms]
        assert all(at - held.arrived_ms < policy.flush_timeout_ms for held in log.buffer)
        assert len(log.buffer) <= len(window)

    for batch, gap, tick in zip(case.deliveries, case.gaps, case.ticks, strict=True):
        now += gap
        log, _ = accept_many(log, batch, now_ms=now, policy=policy)
        arrivals += [now] * len(batch)
        bounded(now)
        if tick is not None:
            log, _ = release_due(log, now_ms=now + tick, policy=policy)
            bounded(now + tick)
