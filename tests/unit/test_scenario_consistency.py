"""Generated activity is physically possible: sessions, legal state sequences, capacity."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.contract_ranks import AGENT_RANK, STATE_CHANGES, TASK_RANK
from wxcc_stream.devtools.scenario import HOUR_MS, MINUTE_MS, Scenario, ScenarioConfig, generate

Event = Mapping[str, Any]
TASK_STATES = {
    "ringing",
    "not-responding",
    "connected",
    "on-hold",
    "hold-done",
    "consulting",
    "consult-done",
    "conferencing",
    "wrapup",
    "wrapup-done",
}

# One agent's part in one task, offer after offer (see the simulation's task process):
# refused, or accepted then holds / consults / conferences, maybe ended on hold, wrap-up;
# a consulted agent may report `conferencing` too (a shared conference) before wrap-up.
_BODY = r"(?:on-hold hold-done |consulting consult-done |consulting conferencing connected )*"
_LEG = re.compile(
    rf"^(?:ringing (?:not-responding |connected {_BODY}(?:on-hold |conferencing )?wrapup "
    r"wrapup-done ))+$"
)
# A task's own events.
_TASK_BODY = (
    r"(?:on-hold hold-done |consulting consult-done |consulting conferencing conference-done )*"
)
_TASK = re.compile(
    r"^new (?:parked )?"
    rf"(?:connect (?:parked |connected {_TASK_BODY}parked ))*"
    rf"(?:ended |connect connected {_TASK_BODY}(?:on-hold )?ended )"
    r"(?:capture )*$"
)

CONFIGS = {
    "default": ScenarioConfig(seed=99),
    "busy": ScenarioConfig(
        seed=3,
        agents=10,
        queues=3,
        duration_ms=3 * HOUR_MS,
        tasks=400,
        rona_probability=0.2,
        hold_probability=0.6,
        consult_probability=0.3,
        conference_probability=0.2,
        transfer_probability=0.2,
        end_on_hold_probability=0.3,
        relogin_probability=0.5,
        break_probability=0.2,
        chat_capacity=3,
        max_concurrent_tasks=4,
        channel_state_fraction=0.4,
    ),
    "overloaded": ScenarioConfig(seed=5, agents=2, duration_ms=HOUR_MS, tasks=80),
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def scenario(request: pytest.FixtureRequest) -> Scenario:
    return generate(CONFIGS[request.param])


def _time(event: Event) -> int:
    created: int = event["data"]["createdTime"]
    return created


def _by_agent(scenario: Scenario) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = defaultdict(list)
    for event in scenario.events:
        if event["type"].startswith("agent:"):
            out[event["data"]["agentId"]].append(event)
    return out


def _channels(scenario: Scenario) -> dict[str, str]:
    return {
        e["data"]["taskId"]: e["data"]["channelType"]
        for e in scenario.events
        if e["type"] == "task:new"
    }


def check_sessions(scenario: Scenario) -> None:
    """Every login is matched by a logout; nothing happens to a logged-out agent."""
    for agent_id, events in _by_agent(scenario).items():
        assert events[0]["type"] == "agent:login", agent_id
        assert events[-1]["type"] == "agent:logout", agent_id
        logged_in = False
        for event in events:
            if event["type"] == "agent:login":
                assert not logged_in
                logged_in = True
            elif event["type"] == "agent:logout":
                assert logged_in
                logged_in = False
            else:
                assert logged_in, (agent_id, event)


def check_state_payloads(scenario: Scenario) -> None:
    """taskId only with task states; idle codes on idle; wrap-up codes on wrapup-done."""
    for event in scenario.events:
        if event["type"] not in STATE_CHANGES:
            continue
        data = event["data"]
        state = data["currentState"].lower()
        assert ("taskId" in data) == (state in TASK_STATES), data
        assert ("queueId" in data) == (state in TASK_STATES), data
        if state == "idle":
            assert isinstance(data["idleCodeId"], str)
        elif state == "available":
            assert data["idleCodeId"] is None
        else:
            assert "idleCodeId" not in data
        assert ("wrapUpAuxCodeId" in data) == (state == "wrapup-done")
        if state == "wrapup-done":
            assert isinstance(data["wrapUpAuxCodeId"], str)


def check_legs(scenario: Scenario) -> None:
    """Each agent's states on each task follow a legal sequence."""
    legs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for event in scenario.events:
        data = event["data"]
        if event["type"] in STATE_CHANGES and "taskId" in data:
            legs[(data["agentId"], data["taskId"])].append(data["currentState"])
    for key, states in legs.items():
        assert _LEG.match(" ".join(states) + " "), (key, states)


def check_task_sequences(scenario: Scenario) -> None:
    """Each task's own events follow a legal sequence and it always ends."""
    sequences: dict[str, list[str]] = defaultdict(list)
    for event in scenario.events:
        if event["type"].startswith(("task:", "capture:")):
            name = event["type"].split(":", 1)[1]
            sequences[event["data"]["taskId"]].append(
                "capture" if event["type"] == "capture:available" else name
            )
    for task_id, names in sequences.items():
        assert _TASK.match(" ".join(names) + " "), (task_id, names)


def check_capacity(scenario: Scenario) -> None:
    """From ringing to wrapup-done / not-responding an agent holds a task; limits hold."""
    config = scenario.config
    channels = _channels(scenario)
    profiles = {a.id: a.profile_type for a in scenario.directory.agents}
    holding: dict[str, dict[str, str]] = defaultdict(dict)
    for event in scenario.events:
        data = event["data"]
        if event["type"] not in STATE_CHANGES or "taskId" not in data:
            continue
        agent_id, task_id, state = data["agentId"], data["taskId"], data["currentState"]
        held = holding[agent_id]
        if state == "ringing":
            assert task_id not in held
            held[task_id] = channels[task_id]
            kinds = list(held.values())
            assert kinds.count("telephony") <= 1, (agent_id, held)
            assert kinds.count("chat") <= config.chat_capacity
            assert kinds.count("email") <= 1
            assert kinds.count("social") <= 1
            assert len(kinds) <= config.max_concurrent_tasks
            if profiles[agent_id] == "EXCLUSIVE":
                assert len(kinds) == 1
            if profiles[agent_id] == "BLENDED_REALTIME":
                assert not ("telephony" in kinds and "chat" in kinds)
        else:
            assert task_id in held, (agent_id, task_id, state)
            if state in ("wrapup-done", "not-responding"):
                del held[task_id]
    assert all(not held for held in holding.values())


def check_order(scenario: Scenario) -> None:
    """Event-time order; per agent and per task's own events, strictly increasing
    (createdTime, tiebreak rank): the contract's fold order is the order of the model."""
    times = [_time(e) for e in scenario.events]
    assert times == sorted(times)
    last: dict[str, tuple[int, int]] = {}
    for event in scenario.events:
        if event["type"].startswith("agent:"):
            key, rank = event["data"]["agentId"], AGENT_RANK[event["type"]]
        else:
            key, rank = event["data"]["taskId"], TASK_RANK[event["type"]]
        position = (_time(event), rank)
        if key in last:
            assert position > last[key], (key, event["type"], position, last[key])
        last[key] = position


def check_unique_identity(scenario: Scenario) -> None:
    """No two events could be taken for the same one (ids, or type+entity+time+state)."""
    ids = [e["id"] for e in scenario.events]
    assert len(ids) == len(set(ids))
    seen: set[tuple[Any, ...]] = set()
    for event in scenario.events:
        data = event["data"]
        # the contract's semantic identity: an agent event's state includes its agent id,
        # since two agents' legs of one task may reach one state in the same ms
        if "currentState" in data:
            state = f"{data['agentId']}:{str(data['currentState']).lower()}"
        else:
            state = str(data.get("filePath", ""))
        entities = [data.get("agentId"), data.get("taskId")]
        for entity in entities:
            if entity is None:
                continue
            key = (event["type"], entity, data["createdTime"], state)
            assert key not in seen, key
            seen.add(key)


CHECKS = [
    check_sessions,
    check_state_payloads,
    check_legs,
    check_task_sequences,
    check_capacity,
    check_order,
    check_unique_identity,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_scenario_is_consistent(scenario: Scenario, check: Any) -> None:
    check(scenario)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**40),
    agents=st.integers(1, 5),
    tasks=st.integers(0, 40),
    minutes=st.integers(1, 180),
    rona=st.sampled_from([0.0, 0.5, 1.0]),
    steps=st.sampled_from([0.0, 0.5, 1.0]),
    capacity=st.integers(1, 4),
    shared=st.sampled_from([0.0, 1.0]),
)
def test_any_small_scenario_is_consistent(
    seed: int,
    agents: int,
    tasks: int,
    minutes: int,
    rona: float,
    steps: float,
    capacity: int,
    shared: float,
) -> None:
    scenario = generate(
        ScenarioConfig(
            seed=seed,
            agents=agents,
            tasks=tasks,
            duration_ms=minutes * MINUTE_MS,
            rona_probability=rona,
            hold_probability=steps,
            consult_probability=steps,
            conference_probability=steps,
            transfer_probability=steps,
            relogin_probability=steps,
            max_concurrent_tasks=capacity,
            shared_conference_probability=shared,
        )
    )
    for check in CHECKS:
        check(scenario)


def test_checks_catch_an_impossible_scenario() -> None:
    """The checks are not vacuous: a second call offered to an agent on a call is caught."""
    scenario = generate(CONFIGS["busy"])
    events = list(scenario.events)
    channels = _channels(scenario)
    calls = [
        i
        for i, e in enumerate(events)
        if e["type"] in STATE_CHANGES
        and e["data"]["currentState"] == "connected"
        and channels[e["data"]["taskId"]] == "telephony"
    ]
    on_call = events[calls[0]]
    other = next(
        e for e in (events[i] for i in calls) if e["data"]["taskId"] != on_call["data"]["taskId"]
    )
    forged = {
        **on_call,
        "id": "forged",
        "data": {**on_call["data"], "currentState": "ringing", "taskId": other["data"]["taskId"]},
    }
    events.insert(calls[0] + 1, forged)
    broken = Scenario(scenario.config, scenario.directory, tuple(events), {}, {})
    check_capacity(scenario)
    with pytest.raises(AssertionError, match="telephony"):
        check_capacity(broken)
    with pytest.raises(AssertionError):
        check_legs(broken)
