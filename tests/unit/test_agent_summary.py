"""The authoritative agent summary (`agent:reconciled`, docs/projections.md): made by the
job from the API's activity rows of a generated day, and folded with each agent's
webhooks, some of them lost, in any order and with duplicates, the document equals the
generator's ground truth on every restorable field, with the same bytes whatever the
order; unmarked or malformed it changes nothing; and the worker folds it into an agent
it has already compacted (a day old), once."""

from __future__ import annotations

import random
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from tests.unit.contract_fold import contract_fold
from tests.unit.event_builders import AGENT, agent_event
from wxcc_stream.devtools.scenario import Scenario, ScenarioConfig, generate
from wxcc_stream.devtools.wxcc_api.day import ApiDay
from wxcc_stream.processors.core.log import EntityLog, new_log, projection
from wxcc_stream.processors.core.outcome import BeyondReason
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.step import accept, accept_many, release_due
from wxcc_stream.processors.storage.log_value import decode_log, encode_log
from wxcc_stream.projections.agent_state import agent_document, evolve_agent, initial_agent_state
from wxcc_stream.projections.fold import document_bytes
from wxcc_stream.reconcile.agent_summary import agent_events, agent_summary_events
from wxcc_stream.reconcile.events import Origin
from wxcc_stream.schemas.cloudevent import parse_event
from wxcc_stream.schemas.event import EntityKind, Event

# what the API rows cannot give (docs/reconciliation.md, "Field by field")
UNRESTORABLE = {"wrapUpAuxCodeId", "connectedChannels", "revision", "lastEventId"}


@cache
def _day() -> Scenario:
    return generate(ScenarioConfig(seed=8, agents=8, tasks=60))


@cache
def _per_agent() -> dict[str, tuple[list[Event], Event]]:
    """Each agent's webhooks (parsed) and the summary the job makes from the API rows."""
    scenario = _day()
    origin = Origin(scenario.config.org_id, scenario.config.source)
    api = ApiDay(scenario)
    rows = [row.at(api.end_ms) for row in api.activities]
    events = agent_events(rows, origin)
    agents = sorted(scenario.agent_truth)
    summaries = {
        s.entity_id: s for s in map(parse_event, agent_summary_events(events, agents, origin))
    }
    streams: dict[str, list[Event]] = {a: [] for a in agents}
    for raw in scenario.events:
        event = parse_event(raw)
        if event.entity_kind is EntityKind.AGENT:
            streams[event.entity_id].append(event)
    assert set(summaries) == set(agents)
    return {a: (streams[a], summaries[a]) for a in agents}


def _fold(agent_id: str, events: list[Event]) -> dict[str, Any]:
    return contract_fold(
        EntityKind.AGENT, agent_id, events, initial_agent_state, evolve_agent, agent_document
    )


def _restorable(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in UNRESTORABLE}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), drop=st.floats(0.0, 0.5))
def test_summary_restores_the_agent_whatever_was_lost_and_in_any_order(
    seed: int, drop: float
) -> None:
    rng = random.Random(seed)
    truth = _day().agent_truth
    for agent_id, (events, summary) in sorted(_per_agent().items()):
        kept = [e for e in events if rng.random() >= drop]
        delivered = [*kept, summary, *rng.sample(kept, k=len(kept) // 3), summary]
        rng.shuffle(delivered)
        doc = _fold(agent_id, delivered)
        assert _restorable(doc) == _restorable(truth[agent_id]), agent_id
        rng.shuffle(delivered)
        assert document_bytes(_fold(agent_id, delivered)) == document_bytes(doc)


def test_summary_changes_nothing_when_nothing_was_lost_but_its_count() -> None:
    truth = _day().agent_truth
    for agent_id, (events, summary) in _per_agent().items():
        doc = _fold(agent_id, [*events, summary])
        assert _restorable(doc) == _restorable(truth[agent_id])
        assert doc["revision"] == truth[agent_id]["revision"] + 1
        assert doc["lastEventTime"] == truth[agent_id]["lastEventTime"]


def test_an_unmarked_or_malformed_summary_changes_nothing() -> None:
    agent_id, (events, summary) = next(iter(_per_agent().items()))
    lossy = events[: len(events) // 2]
    forged = Event.from_dict({**summary.to_dict(), "reconciled": False})
    broken = replace(summary, data={**summary.data, "timeInState": {"idle": "1 h"}})
    for bad in (forged, broken):
        doc = _fold(agent_id, [*lossy, bad])
        assert _restorable(doc) | {"lastEventTime": 0} == _restorable(_fold(agent_id, lossy)) | {
            "lastEventTime": 0
        }


def test_a_session_begun_before_the_rows_gets_no_summary() -> None:
    scenario = _day()
    origin = Origin(scenario.config.org_id, scenario.config.source)
    api = ApiDay(scenario)
    rows = [r.at(api.end_ms) for r in api.activities if not r.at(api.end_ms).get("isLogin")]
    assert agent_summary_events(agent_events(rows, origin), scenario.agent_truth, origin) == []


# --- the worker: a summary behind the retained history ---------------------------------

POLICY = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=6 * 3_600_000)
DAY_MS = 86_400_000


def _agent_summary(t: int, ce_id: str = "s", **facts: Any) -> Event:
    return replace(agent_event("agent:reconciled", t, ce_id, **facts), reconciled=True)


def _compacted() -> EntityLog:
    """An agent that logged in, went idle (that webhook lost) and logged out a day ago."""
    events = [
        agent_event("agent:login", 0, "l", currentState="available"),
        agent_event("agent:logout", 1_000, "o", currentState="logged-out"),
    ]
    log, _ = accept_many(new_log(EntityKind.AGENT, AGENT), events, now_ms=2_000, policy=POLICY)
    log, out = release_due(log, now_ms=2_000 + POLICY.horizon_ms, policy=POLICY)
    assert out.compacted
    return log


TRUE_SESSION = {
    "loggedIn": False, "state": "logged-out", "stateSince": 1_000, "sessionStart": 0,
    "timeInState": {"available": 400, "idle": 600}, "taskIds": [],
}  # fmt: skip


def test_a_day_old_summary_corrects_a_compacted_agent_once() -> None:
    log = _compacted()
    before = projection(log)
    assert before["timeInState"] == {"available": 1_000}
    log, out = accept(log, _agent_summary(1_000, **TRUE_SESSION), now_ms=DAY_MS, policy=POLICY)
    assert out.changed
    assert [e.ce_id for e in out.late] == ["s"]
    assert not out.beyond_horizon
    after = projection(log)
    assert after["timeInState"] == {"available": 400, "idle": 600}
    assert after["revision"] == before["revision"] + 1
    assert after["lastEventTime"] == before["lastEventTime"]
    assert projection(decode_log(encode_log(log))) == after
    same, out = accept(log, _agent_summary(1_000, **TRUE_SESSION), now_ms=DAY_MS, policy=POLICY)
    assert projection(same) == after
    assert not out.changed
    assert not out.beyond_horizon


def test_a_summary_refolds_the_retained_history_after_it() -> None:
    """Logged in again later: the old session's summary lies behind the retained history,
    nothing pruned after it, so the new session folds on top (and resets it)."""
    log = _compacted()
    later = agent_event("agent:login", POLICY.horizon_ms * 2, "l2", currentState="idle")
    log, _ = accept(log, later, now_ms=DAY_MS, policy=POLICY)
    log, out = accept(log, _agent_summary(1_000, **TRUE_SESSION), now_ms=DAY_MS, policy=POLICY)
    assert not out.beyond_horizon
    doc = projection(log)
    assert (doc["state"], doc["sessionStart"], doc["timeInState"]) == (
        "idle",
        later.created_time,
        {},
    )
    assert doc["revision"] == 4


def test_a_summary_with_pruned_events_after_it_and_unmarked_ones_are_refused() -> None:
    log = _compacted()
    unmarked = replace(_agent_summary(1_000, **TRUE_SESSION), reconciled=False)
    older = _agent_summary(500, **TRUE_SESSION)  # the logout, pruned, sorts after it
    for event in (unmarked, older):
        same, out = accept(log, event, now_ms=DAY_MS, policy=POLICY)
        assert [b.reason for b in out.beyond_horizon] == [BeyondReason.COMPACTED]
        assert projection(same) == projection(log)


def test_a_summary_behind_retained_events_past_the_floor_is_refused() -> None:
    """Pruning at checkpoint revisions keeps a few events past the floor in the history;
    a summary among them would have to go into the history, so it is reported."""
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=10_000)
    states = ["idle", "available"]
    events = [agent_event("agent:login", 0, "l", currentState="available")]
    events += [
        agent_event("agent:state_change", 100 * i, f"e{i:02}", currentState=states[i % 2])
        for i in range(1, 21)
    ]
    events.append(agent_event("agent:state_change", 20_000, "z", currentState="idle"))
    log, _ = accept_many(new_log(EntityKind.AGENT, AGENT), events, now_ms=1, policy=policy)
    summary = _agent_summary(1_950, **TRUE_SESSION)
    # pruned to a checkpoint revision: the base's newest event is older than the summary,
    # and retained events older than the floor are too
    assert log.base.last_event_time < summary.created_time
    assert next(iter(log.history)).key[0] < summary.created_time < 10_000
    same, out = accept(log, summary, now_ms=2, policy=policy)
    assert [b.reason for b in out.beyond_horizon] == [BeyondReason.HORIZON]
    assert projection(same) == projection(log)
