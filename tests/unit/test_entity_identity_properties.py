"""Identity across sources and same-instant ties in the per-entity log (docs/projections.md).

`test_entity_properties` gives every event its own id. Here ids come from a pool of four,
drawn independently of the source, so one id under two sources, the same (source, id)
again with the same payload (a duplicate) or another payload (a conflict: the version that
arrived first is kept), and semantic twins under other ids and sources all occur; times
come from four instants, so same-millisecond ties are the rule. The oracle follows the
page: the first arrival of each (source, id) is the event, a later one with another payload
is a conflict; of semantically equal events the smallest (source, id) is kept; fold in
(createdTime, tiebreak, id, source) order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from tests.unit.contract_ranks import AGENT_RANK, OTHER_RANK, STATE_CHANGES, TASK_RANK
from tests.unit.test_entity_properties import ENTITY, expected_bytes, identity_state
from wxcc_stream.processors.core.log import new_log, projection_bytes
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.step import accept_many
from wxcc_stream.schemas.event import EntityKind, Event

RANKS = {EntityKind.AGENT: AGENT_RANK, EntityKind.TASK: TASK_RANK}
IDS = ["a", "b", "c", "d"]
SOURCES = ["/com/cisco/wxcc/sub-1", "/com/cisco/wxcc/sub-2", "/wxcc-stream/reconcile"]
INSTANTS = st.sampled_from([1_000, 1_000, 1_001, 1_050])  # ties are the rule
POLICY = Policy(grace_ms=100, flush_timeout_ms=1, horizon_ms=10**9)
STATES = ["idle", "available", "ringing", "connected", "wrapup", "wrapup-done"]


def _payload(event: Event) -> tuple[Any, ...]:
    """What the page compares to tell a duplicate from a conflict."""
    return (event.type, event.org_id, event.created_time, dict(event.data))


@st.composite
def an_event(draw: st.DrawFn, kind: EntityKind) -> Event:
    ref = (draw(st.sampled_from(SOURCES)), draw(st.sampled_from(IDS)))
    t = draw(INSTANTS)
    if kind is EntityKind.AGENT:
        type_ = draw(st.sampled_from(sorted(AGENT_RANK)))
        data: dict[str, Any] = {"agentId": ENTITY[kind]}
        if type_ != "agent:logout":
            data["currentState"] = draw(st.sampled_from(STATES))
        return Event(kind, ENTITY[kind], type_, t, ref[1], ref[0], "org-1", data)
    type_ = draw(st.sampled_from(sorted(TASK_RANK)))
    if type_ in STATE_CHANGES:
        agent = draw(st.sampled_from(["ag-1", "ag-2"]))  # two agents' legs in one ms
        data = {"agentId": agent, "taskId": ENTITY[kind], "currentState": "connected"}
        return Event(EntityKind.AGENT, agent, type_, t, ref[1], ref[0], "org-1", data)
    data = {"taskId": ENTITY[kind], "queueId": draw(st.sampled_from(["q1", "q2"]))}
    return Event(kind, ENTITY[kind], type_, t, ref[1], ref[0], "org-1", data)


@dataclass(frozen=True)
class Feed:
    kind: EntityKind
    batches: tuple[tuple[Event, ...], ...]  # in arrival order

    @property
    def arrivals(self) -> list[Event]:
        return [e for batch in self.batches for e in batch]


@st.composite
def feeds(draw: st.DrawFn) -> Feed:
    kind = draw(st.sampled_from([EntityKind.AGENT, EntityKind.TASK]))
    events = draw(st.lists(an_event(kind), min_size=1, max_size=14))
    # exact copies too, not only same-ref events with other payloads
    copies = draw(st.lists(st.sampled_from(events), max_size=4))
    arrivals = draw(st.permutations(events + copies))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(arrivals) - 1)), max_size=4)))
    bounds = [0, *cuts, len(arrivals)]
    batches = tuple(tuple(arrivals[a:b]) for a, b in pairwise(bounds))
    return Feed(kind, tuple(b for b in batches if b))


def first_versions(arrivals: Sequence[Event]) -> tuple[list[Event], int]:
    """The first arrival of each (source, id), and how many later ones conflict with it."""
    first: dict[tuple[str, str], Event] = {}
    conflicts = 0
    for event in arrivals:
        ref = (event.ce_source, event.ce_id)
        if ref not in first:
            first[ref] = event
        elif _payload(first[ref]) != _payload(event):
            conflicts += 1
    return list(first.values()), conflicts


def run(feed: Feed) -> tuple[bytes, int]:
    log = new_log(feed.kind, ENTITY[feed.kind])
    conflicts = 0
    for now, batch in enumerate(feed.batches):
        log, out = accept_many(log, batch, now_ms=now, policy=POLICY)
        conflicts += len(out.conflicts)
    log, out = accept_many(log, (), now_ms=10**6, policy=POLICY)
    return projection_bytes(log), conflicts + len(out.conflicts)


PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _forgotten_twin() -> Feed:
    """b arrives as a's semantic twin (dropped), then again with another payload: a
    conflict with b's first version, which the log must still know."""
    kind = EntityKind.AGENT

    def state(ce_id: str, value: str) -> Event:
        data = {"agentId": ENTITY[kind], "currentState": value}
        return Event(kind, ENTITY[kind], "agent:state_change", 1_000, ce_id, SOURCES[0], "o", data)

    return Feed(kind, ((state("a", "idle"), state("b", "idle"), state("b", "available")),))


@PROPERTY
@example(feed=_forgotten_twin())
@given(feeds())
def test_first_version_of_each_id_wins_and_twins_fold_once(feed: Feed) -> None:
    kept, conflicts = first_versions(feed.arrivals)
    assert run(feed) == (expected_bytes(feed.kind, kept), conflicts)


def _same_instant(kind: EntityKind, first: str, second: str) -> tuple[Event, Event]:
    """Two events of `kind`'s stream at one instant, the second type ranked later."""
    made = []
    for n, type_ in enumerate((first, second)):
        if kind is EntityKind.TASK and type_ in STATE_CHANGES:
            data = {"agentId": "ag-1", "taskId": ENTITY[kind], "currentState": "wrapup"}
            made.append(Event(EntityKind.AGENT, "ag-1", type_, 5, f"z{n}", SOURCES[0], None, data))
            continue
        key = "agentId" if kind is EntityKind.AGENT else "taskId"
        data = {key: ENTITY[kind], "currentState": "available"}
        made.append(Event(kind, ENTITY[kind], type_, 5, f"z{n}", SOURCES[0], None, data))
    return made[0], made[1]


def _tiebreaks() -> list[tuple[EntityKind, str, str]]:
    pairs = []
    for kind, ranks in RANKS.items():
        ranked = {**ranks, f"{kind.value}:unknown-type": OTHER_RANK}
        for a, b in combinations(sorted(ranked, key=ranked.__getitem__), 2):
            if ranked[a] < ranked[b]:
                pairs.append((kind, a, b))
    return pairs


@pytest.mark.parametrize(("kind", "first", "second"), _tiebreaks())
def test_every_tiebreak_of_the_contract_orders_a_same_instant_pair(
    kind: EntityKind, first: str, second: str
) -> None:
    """Delivered in the wrong order, in one batch or two, the lower rank still folds first
    (ids are chosen so that the id order alone would put them the other way round)."""
    earlier, later = _same_instant(kind, first, second)
    earlier, later = replace(earlier, ce_id="z9"), replace(later, ce_id="z1")
    for batches in (((later, earlier),), ((later,), (earlier,))):
        log = new_log(kind, ENTITY[kind])
        released: list[Event] = []
        for now, batch in enumerate(batches):
            log, out = accept_many(log, batch, now_ms=now, policy=POLICY)
            released += [*out.released, *out.late]
        log, out = accept_many(log, (), now_ms=10**6, policy=POLICY)
        released += [*out.released, *out.late]
        assert projection_bytes(log) == expected_bytes(kind, [earlier, later])
        if len(batches) == 1:
            assert [e.type for e in released] == [first, second]


def test_identity_state_keeps_two_agents_legs_apart() -> None:
    one, two = (
        Event(EntityKind.AGENT, a, "agent:state_change", 5, a, SOURCES[0], None,
              {"agentId": a, "taskId": "t", "currentState": "connected"})
        for a in ("ag-1", "ag-2")
    )  # fmt: skip
    assert identity_state(one) != identity_state(two)
