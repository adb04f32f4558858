"""The generator's ground truth, checked against a literal reading of docs/projections.md.

`reference_projections` below is a deliberately naive, independent transcription of the
contract (sort each entity's events, fold them one by one). The generator computes its
truth from its own model instead; the two must agree exactly. The other tests check
properties of the truth directly against the raw events.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.contract_ranks import AGENT_RANK, STATE_CHANGES, TASK_RANK
from wxcc_stream.devtools.scenario import (
    HOUR_MS,
    MINUTE_MS,
    DamageConfig,
    Scenario,
    ScenarioConfig,
    damage,
    generate,
)

Event = Mapping[str, Any]

TASK_STATUS = {
    "task:new": "new",
    "task:parked": "parked",
    "task:connect": "connect",
    "task:connected": "connected",
    "task:on-hold": "on-hold",
    "task:hold-done": "connected",
    "task:consulting": "consulting",
    "task:consult-done": "connected",
    "task:conferencing": "conferencing",
    "task:conference-done": "connected",
    "task:ended": "ended",
}
ADDS_TASK = {
    "ringing",
    "connected",
    "on-hold",
    "hold-done",
    "consulting",
    "consult-done",
    "conferencing",
    "conference-done",
    "wrapup",
}
REMOVES_TASK = {"not-responding", "wrapup-done"}
BACK_TO_CONNECTED = {"hold-done", "consult-done", "conference-done"}


def _org(event: Event) -> Any:
    return event.get("comciscoorgid") or event.get("comciscocorgid")


def _time(event: Event) -> int:
    created: int = event["data"]["createdTime"]
    return created


def _distinct(events: Iterable[Event], entity: str, agent_stream: bool) -> list[Event]:
    """Drop repeats of (source, id) and of semantic identity, keeping the smaller id."""
    by_ce: dict[tuple[str, str], Event] = {}
    for event in events:
        by_ce.setdefault((event["source"], event["id"]), event)
    by_meaning: dict[tuple[Any, ...], Event] = {}
    for key in sorted(by_ce):
        event = by_ce[key]
        data = event["data"]
        if event["type"] == "capture:available":
            state = data.get("filePath")
        elif event["type"].startswith("agent:"):
            state = str(data.get("currentState", "")).lower()
        else:
            state = ""
        by_meaning.setdefault((event["type"], entity, _time(event), state), event)
    rank = AGENT_RANK if agent_stream else TASK_RANK
    return sorted(by_meaning.values(), key=lambda e: (_time(e), rank.get(e["type"], 50), e["id"]))


def fold_agent(agent_id: str, events: Iterable[Event]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "agentId": agent_id,
        "orgId": None,
        "teamId": None,
        "loggedIn": False,
        "state": "logged-out",
        "stateSince": None,
        "idleCodeId": None,
        "wrapUpAuxCodeId": None,
        "taskIds": [],
        "connectedChannels": None,
        "destination": None,
        "profileType": None,
        "sessionStart": None,
        "timeInState": {},
        "lastEventTime": None,
        "lastEventId": None,
        "revision": 0,
        "schema_version": 1,
    }
    tasks: set[str] = set()
    for event in _distinct(events, agent_id, agent_stream=True):
        data, t, kind = event["data"], _time(event), event["type"]
        if _org(event) is not None:
            doc["orgId"] = _org(event)
        if data.get("teamId") is not None:
            doc["teamId"] = data["teamId"]
        for key in (
            "destination",
            "profileType",
            "idleCodeId",
            "wrapUpAuxCodeId",
            "connectedChannels",
        ):
            if key in data:
                doc[key] = data[key]
        if kind == "agent:login":
            new = str(data.get("currentState", "idle")).lower()
        elif kind == "agent:logout":
            new = "logged-out"
        else:
            current = str(data["currentState"]).lower()
            new = (
                "connected"
                if current in BACK_TO_CONNECTED
                else "available"
                if current == "wrapup-done"
                else current
            )
            doc["loggedIn"] = new != "logged-out"
            if data.get("taskId") is not None:
                if current in ADDS_TASK:
                    tasks.add(data["taskId"])
                elif current in REMOVES_TASK:
                    tasks.discard(data["taskId"])
        old = doc["state"]
        if new != old and old != "logged-out" and doc["stateSince"] is not None:
            doc["timeInState"][old] = doc["timeInState"].get(old, 0) + t - doc["stateSince"]
        if kind == "agent:login":
            doc["loggedIn"] = True
            doc["sessionStart"] = t
            doc["timeInState"] = {}
            tasks = set()
        elif kind == "agent:logout":
            doc["loggedIn"] = False
            tasks = set()
        if new != old:
            doc["state"], doc["stateSince"] = new, t
        if kind == "agent:login":
            doc["stateSince"] = t
        doc["lastEventTime"], doc["lastEventId"] = t, event["id"]
        doc["revision"] += 1
    doc["taskIds"] = sorted(tasks)
    doc["timeInState"] = dict(sorted(doc["timeInState"].items()))
    return doc


def fold_task(task_id: str, events: Iterable[Event]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "taskId": task_id,
        "orgId": None,
        "channelType": None,
        "direction": None,
        "outboundType": None,
        "origin": None,
        "destination": None,
        "queueId": None,
        "status": None,
        "newTime": None,
        "parkedTime": None,
        "connectTime": None,
        "connectedTime": None,
        "endedTime": None,
        "queueWaitMs": None,
        "ringMs": None,
        "talkMs": None,
        "holdCount": 0,
        "holdMs": 0,
        "consultCount": 0,
        "conferenceCount": 0,
        "wrapUpMs": 0,
        "agentIds": [],
        "legs": {},
        "terminatingParty": None,
        "reason": None,
        "captures": [],
        "lastEventTime": None,
        "lastEventId": None,
        "revision": 0,
        "schema_version": 1,
    }
    last_connect: int | None = None
    hold_start: int | None = None
    legs: dict[str, dict[str, Any]] = {}
    captures: set[str] = set()
    first = {"task:new": "newTime", "task:parked": "parkedTime", "task:connect": "connectTime"}
    for event in _distinct(events, task_id, agent_stream=False):
        data, t, kind = event["data"], _time(event), event["type"]
        if kind.startswith("task:"):
            if _org(event) is not None:
                doc["orgId"] = _org(event)
            for key in (
                "channelType",
                "direction",
                "outboundType",
                "origin",
                "destination",
                "queueId",
            ):
                if key in data:
                    doc[key] = data[key]
            doc["status"] = TASK_STATUS.get(kind, doc["status"])
            if kind in first and doc[first[kind]] is None:
                doc[first[kind]] = t
            if kind == "task:connect":
                last_connect = t
            elif kind == "task:connected" and doc["connectedTime"] is None:
                doc["connectedTime"] = t
                if last_connect is not None:
                    doc["ringMs"] = t - last_connect
            elif kind == "task:on-hold":
                doc["holdCount"] += 1
                if hold_start is None:
                    hold_start = t
            elif kind in ("task:hold-done", "task:ended") and hold_start is not None:
                doc["holdMs"] += t - hold_start
                hold_start = None
            elif kind == "task:consulting":
                doc["consultCount"] += 1
            elif kind == "task:conferencing":
                doc["conferenceCount"] += 1
            if kind == "task:ended":
                doc["endedTime"] = t
                for key in ("terminatingParty", "reason"):
                    if key in data:
                        doc[key] = data[key]
        elif kind == "capture:available":
            captures.add(data["filePath"])
        elif kind in STATE_CHANGES:
            current = str(data["currentState"]).lower()
            new = (
                "connected"
                if current in BACK_TO_CONNECTED
                else "done"
                if current in REMOVES_TASK
                else current
            )
            leg = legs.setdefault(
                data["agentId"],
                {"state": None, "since": None, "timeInState": {}, "wrapUpAuxCodeId": None},
            )
            if new != leg["state"]:
                if leg["state"] not in (None, "done"):
                    spent = leg["timeInState"]
                    spent[leg["state"]] = spent.get(leg["state"], 0) + t - leg["since"]
                leg["state"], leg["since"] = new, t
            if "wrapUpAuxCodeId" in data:
                leg["wrapUpAuxCodeId"] = data["wrapUpAuxCodeId"]
        doc["lastEventTime"], doc["lastEventId"] = t, event["id"]
        doc["revision"] += 1
    queued = doc["parkedTime"] if doc["parkedTime"] is not None else doc["newTime"]
    if doc["connectTime"] is not None and queued is not None:
        doc["queueWaitMs"] = doc["connectTime"] - queued
    if doc["endedTime"] is not None and doc["connectedTime"] is not None:
        doc["talkMs"] = doc["endedTime"] - doc["connectedTime"] - doc["holdMs"]
    doc["wrapUpMs"] = sum(leg["timeInState"].get("wrapup", 0) for leg in legs.values())
    doc["agentIds"] = sorted(legs)
    doc["legs"] = {
        agent: {**leg, "timeInState": dict(sorted(leg["timeInState"].items()))}
        for agent, leg in sorted(legs.items())
    }
    doc["captures"] = sorted(captures)
    return doc


def reference_projections(
    events: Iterable[Event],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Route events to agent and task streams as the design says, and fold each."""
    agents: dict[str, list[Event]] = defaultdict(list)
    tasks: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        data = event["data"]
        if event["type"].startswith("agent:"):
            agents[data["agentId"]].append(event)
            if event["type"] in STATE_CHANGES and data.get("taskId"):
                tasks[data["taskId"]].append(event)
        else:
            tasks[data["taskId"]].append(event)
    return (
        {a: fold_agent(a, evs) for a, evs in sorted(agents.items())},
        {t: fold_task(t, evs) for t, evs in sorted(tasks.items())},
    )


def _dump(docs: Mapping[str, Any]) -> bytes:
    return orjson.dumps(docs, option=orjson.OPT_SORT_KEYS)


def assert_truth_matches_reference(scenario: Scenario, events: Iterable[Event]) -> None:
    agents, tasks = reference_projections(events)
    assert sorted(agents) == sorted(scenario.agent_truth)
    assert sorted(tasks) == sorted(scenario.task_truth)
    for key, doc in agents.items():
        assert scenario.agent_truth[key] == doc, key
    for key, doc in tasks.items():
        assert scenario.task_truth[key] == doc, key
    assert _dump(agents) == _dump(scenario.agent_truth)
    assert _dump(tasks) == _dump(scenario.task_truth)


# --- fixtures -------------------------------------------------------------------------

BUSY = ScenarioConfig(
    seed=7,
    agents=12,
    teams=3,
    queues=4,
    duration_ms=4 * HOUR_MS,
    tasks=500,
    rona_probability=0.2,
    hold_probability=0.6,
    consult_probability=0.3,
    conference_probability=0.2,
    transfer_probability=0.2,
    end_on_hold_probability=0.3,
    break_probability=0.2,
    relogin_probability=0.5,
    outbound_fraction=0.3,
    channel_state_fraction=0.3,
)
# More tasks than the agents can take: queues build up, customers give up.
OVERLOADED = ScenarioConfig(seed=11, agents=3, teams=2, queues=2, duration_ms=HOUR_MS, tasks=120)


@pytest.fixture(scope="module")
def busy() -> Scenario:
    return generate(BUSY)


@pytest.fixture(scope="module")
def overloaded() -> Scenario:
    return generate(OVERLOADED)


@pytest.fixture(scope="module")
def default_day() -> Scenario:
    return generate(ScenarioConfig(seed=2024))


# --- the truth equals the contract's fold ---------------------------------------------


@pytest.mark.parametrize("name", ["busy", "overloaded", "default_day"])
def test_truth_equals_reference_fold(name: str, request: pytest.FixtureRequest) -> None:
    scenario: Scenario = request.getfixturevalue(name)
    assert_truth_matches_reference(scenario, scenario.events)


small_configs = st.builds(
    ScenarioConfig,
    seed=st.integers(0, 2**32),
    agents=st.integers(1, 6),
    teams=st.integers(1, 3),
    queues=st.integers(1, 3),
    duration_ms=st.integers(MINUTE_MS, 3 * HOUR_MS),
    tasks=st.integers(0, 40),
    rona_probability=st.sampled_from([0.0, 0.3, 1.0]),
    hold_probability=st.sampled_from([0.0, 0.5, 1.0]),
    consult_probability=st.sampled_from([0.0, 0.5, 1.0]),
    conference_probability=st.sampled_from([0.0, 0.5, 1.0]),
    transfer_probability=st.sampled_from([0.0, 0.5, 1.0]),
    end_on_hold_probability=st.sampled_from([0.0, 0.5, 1.0]),
    break_probability=st.sampled_from([0.0, 0.3]),
    relogin_probability=st.sampled_from([0.0, 1.0]),
    outbound_fraction=st.sampled_from([0.0, 0.5, 1.0]),
    channel_state_fraction=st.sampled_from([0.0, 0.5, 1.0]),
    chat_capacity=st.integers(1, 3),
    max_concurrent_tasks=st.integers(1, 4),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=small_configs)
def test_truth_equals_reference_fold_for_any_small_config(config: ScenarioConfig) -> None:
    scenario = generate(config)
    assert_truth_matches_reference(scenario, scenario.events)


def test_reference_fold_is_not_vacuous(busy: Scenario) -> None:
    """Changing one event's time changes the reference documents: the comparison bites."""
    events = [dict(e) for e in busy.events]
    index = next(i for i, e in enumerate(events) if e["type"] == "task:hold-done")
    moved = {**events[index], "data": {**events[index]["data"]}}
    moved["data"]["createdTime"] += 1
    events[index] = moved
    with pytest.raises(AssertionError):
        assert_truth_matches_reference(busy, events)


def test_damaged_delivery_plus_reconciled_drops_folds_to_the_truth(busy: Scenario) -> None:
    """What the processors must prove: order and repeats do not matter, drops restored."""
    delivery = damage(
        busy.events,
        DamageConfig(
            seed=5,
            shuffle_window_ms=30_000,
            duplicate_fraction=0.1,
            drop_fraction=0.05,
            late_fraction=0.05,
        ),
    )
    received = [event for _, event in delivery.deliveries]
    assert_truth_matches_reference(busy, [*received, *delivery.dropped])
    if delivery.dropped:
        with pytest.raises(AssertionError):
            assert_truth_matches_reference(busy, received)


# --- properties of the truth, read against the raw events ------------------------------


def _task_events(scenario: Scenario) -> dict[str, list[Event]]:
    by_task: dict[str, list[Event]] = defaultdict(list)
    for event in scenario.events:
        task_id = event["data"].get("taskId")
        if task_id is not None:
            by_task[task_id].append(event)
    return by_task


@pytest.mark.parametrize("name", ["busy", "overloaded", "default_day"])
def test_revision_counts_each_entitys_events(name: str, request: pytest.FixtureRequest) -> None:
    scenario: Scenario = request.getfixturevalue(name)
    per_agent = Counter(
        e["data"]["agentId"] for e in scenario.events if e["type"].startswith("agent:")
    )
    per_task = Counter(
        e["data"]["taskId"] for e in scenario.events if e["data"].get("taskId") is not None
    )
    assert {a: d["revision"] for a, d in scenario.agent_truth.items()} == dict(per_agent)
    assert {t: d["revision"] for t, d in scenario.task_truth.items()} == dict(per_task)


@pytest.mark.parametrize("name", ["busy", "overloaded", "default_day"])
def test_truth_keys_are_the_entities_of_the_events(
    name: str, request: pytest.FixtureRequest
) -> None:
    scenario: Scenario = request.getfixturevalue(name)
    task_ids = {e["data"]["taskId"] for e in scenario.events if e["type"] == "task:new"}
    agent_ids = {e["data"]["agentId"] for e in scenario.events if e["type"] == "agent:login"}
    assert set(scenario.task_truth) == task_ids
    assert set(scenario.agent_truth) == agent_ids
    assert len(task_ids) == scenario.config.task_count()
    assert agent_ids == {agent.id for agent in scenario.directory.agents}


@pytest.mark.parametrize("name", ["busy", "overloaded", "default_day"])
def test_task_phase_times_are_ordered(name: str, request: pytest.FixtureRequest) -> None:
    scenario: Scenario = request.getfixturevalue(name)
    for task_id, doc in scenario.task_truth.items():
        assert doc["status"] == "ended", task_id
        assert doc["endedTime"] is not None
        assert doc["newTime"] is not None
        if doc["connectedTime"] is not None:
            assert doc["endedTime"] >= doc["connectedTime"] >= doc["connectTime"]
            assert doc["connectTime"] >= doc["newTime"]
            assert doc["talkMs"] >= 0
            assert doc["ringMs"] > 0
        else:
            assert doc["talkMs"] is None
            assert doc["ringMs"] is None
        assert doc["endedTime"] >= doc["newTime"]
        if doc["queueWaitMs"] is not None:
            assert doc["queueWaitMs"] >= 0
        assert doc["lastEventTime"] >= doc["endedTime"]


@pytest.mark.parametrize("name", ["busy", "default_day"])
def test_hold_and_consult_counts_match_the_events(
    name: str, request: pytest.FixtureRequest
) -> None:
    scenario: Scenario = request.getfixturevalue(name)
    for task_id, events in _task_events(scenario).items():
        types = Counter(e["type"] for e in events)
        doc = scenario.task_truth[task_id]
        assert doc["holdCount"] == types["task:on-hold"]
        assert doc["consultCount"] == types["task:consulting"]
        assert doc["conferenceCount"] == types["task:conferencing"]
        holds = [e for e in events if e["type"] in ("task:on-hold", "task:hold-done")]
        ended = [e for e in events if e["type"] == "task:ended"]
        total, opened = 0, None
        for event in holds + ended:  # events are in time order per type group
            if event["type"] == "task:on-hold":
                opened = event["data"]["createdTime"]
            elif opened is not None:
                total += event["data"]["createdTime"] - opened
                opened = None
        assert doc["holdMs"] == total


@pytest.mark.parametrize("name", ["busy", "overloaded", "default_day"])
def test_captures_only_for_ended_telephony_tasks(name: str, request: pytest.FixtureRequest) -> None:
    scenario: Scenario = request.getfixturevalue(name)
    by_task = _task_events(scenario)
    with_captures = 0
    for task_id, doc in scenario.task_truth.items():
        paths = [
            e["data"]["filePath"] for e in by_task[task_id] if e["type"] == "capture:available"
        ]
        assert doc["captures"] == sorted(set(paths))
        if paths:
            with_captures += 1
            assert doc["channelType"] == "telephony"
            assert doc["connectedTime"] is not None
            times = [
                e["data"]["createdTime"]
                for e in by_task[task_id]
                if e["type"] == "capture:available"
            ]
            assert min(times) > doc["endedTime"]
    if name != "overloaded":
        assert with_captures > 0


def test_agents_end_logged_out_with_their_session_accounted(default_day: Scenario) -> None:
    for agent_id, doc in default_day.agent_truth.items():
        events = [
            e
            for e in default_day.events
            if e["type"].startswith("agent:") and e["data"]["agentId"] == agent_id
        ]
        logins = [e for e in events if e["type"] == "agent:login"]
        assert doc["loggedIn"] is False
        assert doc["state"] == "logged-out"
        assert doc["taskIds"] == []
        assert doc["sessionStart"] == logins[-1]["data"]["createdTime"]
        assert doc["stateSince"] == events[-1]["data"]["createdTime"]
        # The session's time in state covers exactly login..logout.
        assert sum(doc["timeInState"].values()) == doc["stateSince"] - doc["sessionStart"]


def test_wrapup_time_is_the_legs_wrapup(busy: Scenario) -> None:
    for doc in busy.task_truth.values():
        assert doc["wrapUpMs"] == sum(
            leg["timeInState"].get("wrapup", 0) for leg in doc["legs"].values()
        )
        assert doc["agentIds"] == sorted(doc["legs"])
        for leg in doc["legs"].values():
            assert leg["state"] == "done"
            assert "done" not in leg["timeInState"]
