"""The generator's output: reproducible, vendor-shaped events, realistic variety, fast."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxcc_stream.devtools.scenario import (
    HOUR_MS,
    MINUTE_MS,
    ChannelMix,
    Scenario,
    ScenarioConfig,
    ScenarioConfigError,
    Timings,
    generate,
    summarize,
)

REPO = Path(__file__).resolve().parents[2]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# Data fields per type as listed on the vendor's "Using Webhooks" page (seed), by hand.
_TASK = ["taskId", "origin", "destination", "direction", "channelType", "outboundType"]
VENDOR_DATA = {
    "agent:login": [
        "agentId",
        "destination",
        "profileType",
        "idleCodeId",
        "currentState",
        "createdTime",
        "teamId",
    ],
    "agent:logout": ["agentId", "currentState", "loggedOutBy", "createdTime"],
    "capture:available": ["taskId", "filePath", "createdTime"],
    "task:new": [*_TASK, "createdTime"],
    "task:parked": [*_TASK, "queueId", "createdTime"],
    "task:connect": [*_TASK, "queueId", "createdTime"],
    "task:connected": [*_TASK, "queueId", "createdTime"],
    "task:on-hold": [*_TASK, "queueId", "createdTime"],
    "task:hold-done": [*_TASK, "queueId", "createdTime"],
    "task:consulting": [*_TASK, "queueId", "createdTime"],
    "task:consult-done": [*_TASK, "queueId", "createdTime"],
    "task:conferencing": [*_TASK, "queueId", "createdTime"],
    # The vendor lists only these three (and no createdTime); we add the time.
    "task:conference-done": ["taskId", "origin", "destination"],
    "task:ended": [*_TASK, "terminatingParty", "reason", "queueId", "createdTime"],
}
STATE_CHANGE_ALWAYS = {
    "agentId",
    "currentState",
    "destination",
    "createdTime",
    "connectedChannels",
    "teamId",
}
STATE_CHANGE_SOMETIMES = {"queueId", "taskId", "idleCodeId", "wrapUpAuxCodeId"}
AGENT_STATES = {
    "idle",
    "available",
    "ringing",
    "not-responding",
    "connected",
    "on-hold",
    "hold-done",
    "consulting",
    "conferencing",
    "consult-done",
    "wrapup",
    "wrapup-done",
}

SMALL = ScenarioConfig(seed=42, agents=4, duration_ms=2 * HOUR_MS, tasks=60)


def _bytes(scenario: Scenario) -> bytes:
    return orjson.dumps(
        [scenario.events, scenario.agent_truth, scenario.task_truth],
        option=orjson.OPT_SORT_KEYS,
    )


@pytest.fixture(scope="module")
def day() -> Scenario:
    return generate(ScenarioConfig(seed=1, agents=20, tasks=800))


# --- reproducibility --------------------------------------------------------------------


def test_same_config_gives_identical_bytes() -> None:
    assert _bytes(generate(SMALL)) == _bytes(generate(SMALL))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**63))
def test_same_seed_same_bytes_other_seed_other_bytes(seed: int) -> None:
    config = replace(SMALL, seed=seed)
    first = _bytes(generate(config))
    assert first == _bytes(generate(config))
    assert first != _bytes(generate(replace(config, seed=seed + 1)))


def test_output_does_not_depend_on_hash_randomisation() -> None:
    """Two interpreters with different PYTHONHASHSEED produce the same bytes."""
    program = (
        "import hashlib, orjson\n"
        "from wxcc_stream.devtools.scenario import ScenarioConfig, generate, HOUR_MS\n"
        "s = generate(ScenarioConfig(seed=42, agents=4, duration_ms=2 * HOUR_MS, tasks=60))\n"
        "blob = orjson.dumps([s.events, s.agent_truth, s.task_truth],"
        " option=orjson.OPT_SORT_KEYS)\n"
        "print(hashlib.sha256(blob).hexdigest())\n"
    )
    digests = set()
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", program],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        digests.add(result.stdout.strip())
    assert digests == {hashlib.sha256(_bytes(generate(SMALL))).hexdigest()}


def test_presentation_choices_do_not_change_the_activity() -> None:
    """v2 stamps, org spelling and capitalisation come from their own random stream."""
    plain = generate(
        replace(
            SMALL, v2_fraction=0.0, alt_org_attribute_fraction=0.0, capitalised_state_fraction=0
        )
    )
    fancy = generate(
        replace(
            SMALL, v2_fraction=1.0, alt_org_attribute_fraction=1.0, capitalised_state_fraction=1
        )
    )

    def activity(s: Scenario) -> list[Any]:
        return [
            (
                e["id"],
                e["type"],
                {**e["data"], "currentState": str(e["data"].get("currentState")).lower()},
            )
            for e in s.events
        ]

    assert activity(plain) == activity(fancy)
    assert plain.task_truth == fancy.task_truth
    assert all("comciscotimestamp" in e and "comciscocorgid" in e for e in fancy.events)
    assert not any("comciscotimestamp" in e or "comciscocorgid" in e for e in plain.events)


def test_the_v2_state_change_name_changes_no_projection() -> None:
    """`agent:channel_state_change` replaces a share of `agent:state_change` events, and the
    truth (docs/projections.md folds both alike) is the same as for a v1-only feed."""
    v1 = generate(SMALL)
    mixed = generate(replace(SMALL, channel_state_fraction=0.5))
    v2 = generate(replace(SMALL, channel_state_fraction=1.0))

    def types(s: Scenario) -> Counter[str]:
        return Counter(e["type"] for e in s.events)

    changes = types(v1)["agent:state_change"]
    assert changes > 100
    assert types(v1)["agent:channel_state_change"] == 0
    assert 0 < types(mixed)["agent:channel_state_change"] < changes
    assert types(v2)["agent:state_change"] == 0
    assert types(v2)["agent:channel_state_change"] == changes
    for other in (mixed, v2):
        assert [e["id"] for e in other.events] == [e["id"] for e in v1.events]
        assert other.agent_truth == v1.agent_truth
        assert other.task_truth == v1.task_truth


# --- envelope and payloads ----------------------------------------------------------------


def test_every_event_has_a_valid_envelope(day: Scenario) -> None:
    config = day.config
    for event in day.events:
        assert UUID.match(event["id"]), event["id"]
        assert event["specversion"] == "1.0"
        assert event["source"] == f"/com/cisco/wxcc/{config.subscription_id}"
        assert event["datacontenttype"] == "application/json"
        orgs = [k for k in ("comciscoorgid", "comciscocorgid") if k in event]
        assert len(orgs) == 1
        assert event[orgs[0]] == config.org_id
        extra = set(event) - {
            "id",
            "specversion",
            "type",
            "source",
            "datacontenttype",
            "data",
            *orgs,
            "comciscotimestamp",
        }
        assert not extra
        if "comciscotimestamp" in event:
            stamp = event["comciscotimestamp"]
            assert isinstance(stamp, int) or (isinstance(stamp, str) and stamp.isdigit())
            assert 0 <= int(stamp) - event["data"]["createdTime"] <= 400
    ids = [e["id"] for e in day.events]
    assert len(set(ids)) == len(ids)


def test_every_event_has_the_vendor_fields_of_its_type(day: Scenario) -> None:
    seen = Counter(e["type"] for e in day.events)
    assert set(seen) == {*VENDOR_DATA, "agent:state_change"}
    for event in day.events:
        data = event["data"]
        assert isinstance(data["createdTime"], int)
        if event["type"] == "agent:state_change":
            assert STATE_CHANGE_ALWAYS <= set(data) <= STATE_CHANGE_ALWAYS | STATE_CHANGE_SOMETIMES
            assert data["currentState"].lower() in AGENT_STATES
            assert isinstance(data["connectedChannels"], list)
        else:
            expected = set(VENDOR_DATA[event["type"]]) | {"createdTime"}
            assert set(data) == expected, event["type"]


def test_task_payload_values(day: Scenario) -> None:
    queues = {q.id for q in day.directory.queues}
    for event in day.events:
        data = event["data"]
        if "taskId" in data:
            assert UUID.match(data["taskId"])
        if not event["type"].startswith("task:") or event["type"] == "task:conference-done":
            continue
        assert data["channelType"] in ("telephony", "chat", "email", "social")
        if data["direction"] == "INBOUND":
            assert data["outboundType"] is None
        else:
            assert data["direction"] == "OUTBOUND"
            assert data["channelType"] == "telephony"
            assert data["outboundType"] in ("CALLBACK", "CAMPAIGN", "AUTODIAL")
        if "queueId" in data:
            assert data["queueId"] in queues
        if event["type"] == "task:ended":
            assert (data["terminatingParty"], data["reason"]) in (
                ("Customer", "Customer left"),
                ("Agent", "Agent left"),
            )


def test_agent_payload_values(day: Scenario) -> None:
    agents = {a.id: a for a in day.directory.agents}
    idle_codes = {c.id for c in day.directory.idle_codes}
    wrapup_codes = {c.id for c in day.directory.wrapup_codes}
    for event in day.events:
        data = event["data"]
        if not event["type"].startswith("agent:"):
            continue
        agent = agents[data["agentId"]]
        if event["type"] == "agent:login":
            assert data["currentState"] in ("Idle", "idle")
            assert data["idleCodeId"] in idle_codes
            assert data["profileType"] == agent.profile_type
        elif event["type"] == "agent:logout":
            assert data["currentState"] == "logged-out"
            assert data["loggedOutBy"] in ("SELF", "SUPERVISOR")
        else:
            assert data["teamId"] == agent.team_id
            assert data["destination"] == agent.destination
            if data.get("idleCodeId") is not None:
                assert data["idleCodeId"] in idle_codes
            if "wrapUpAuxCodeId" in data:
                assert data["wrapUpAuxCodeId"] in wrapup_codes
            own = {channel_id for _, channel_id in agent.channel_ids}
            assert set(data["connectedChannels"]) <= own


# --- variety ------------------------------------------------------------------------------


def test_a_day_has_the_variety_the_vendor_describes(day: Scenario) -> None:
    events = day.events
    states = Counter(e["data"]["currentState"] for e in events if e["type"] == "agent:state_change")
    for state in AGENT_STATES | {"Idle", "Available"}:
        assert states[state] > 0, state
    assert {"comciscoorgid", "comciscocorgid"} <= {k for e in events for k in e}
    stamps = [e["comciscotimestamp"] for e in events if "comciscotimestamp" in e]
    assert any(isinstance(s, int) for s in stamps)
    assert any(isinstance(s, str) for s in stamps)
    tasks = list(day.task_truth.values())
    assert {t["channelType"] for t in tasks} == {"telephony", "chat", "email", "social"}
    assert {t["outboundType"] for t in tasks} == {None, "CALLBACK", "CAMPAIGN", "AUTODIAL"}
    assert any(t["parkedTime"] is None for t in tasks)  # autodialled
    assert any(len(t["agentIds"]) > 1 for t in tasks)  # RONA, consult or transfer
    assert any(t["holdCount"] > 1 for t in tasks)
    assert any(t["consultCount"] and not t["conferenceCount"] for t in tasks)
    assert any(t["conferenceCount"] for t in tasks)
    assert any(len(t["captures"]) > 1 for t in tasks)
    assert {t["terminatingParty"] for t in tasks} == {"Customer", "Agent"}
    # A transfer re-queues a task after it was connected.
    assert any(
        t["queueWaitMs"] is not None and t["parkedTime"] is not None and t["revision"] > 12
        for t in tasks
    )
    logins = Counter(e["data"]["agentId"] for e in events if e["type"] == "agent:login")
    assert max(logins.values()) > 1  # someone logged out and in again
    assert any(len(e["data"].get("connectedChannels", ())) > 1 for e in events)  # multitasking


def test_overload_makes_customers_give_up() -> None:
    scenario = generate(ScenarioConfig(seed=8, agents=2, duration_ms=HOUR_MS, tasks=100))
    abandoned = [t for t in scenario.task_truth.values() if t["connectedTime"] is None]
    assert abandoned
    for task in abandoned:
        assert task["terminatingParty"] == "Customer"
        # Only agents who let it ring (RONA) can have a part in a task never connected.
        assert all(set(leg["timeInState"]) <= {"ringing"} for leg in task["legs"].values())


def test_no_tasks_still_gives_whole_agent_sessions() -> None:
    scenario = generate(ScenarioConfig(seed=3, agents=3, tasks=0, duration_ms=MINUTE_MS))
    assert scenario.task_truth == {}
    types = Counter(e["type"] for e in scenario.events)
    assert types["agent:login"] == types["agent:logout"] == 3
    assert all(doc["connectedChannels"] == [] for doc in scenario.agent_truth.values())


def test_task_count_follows_config(day: Scenario) -> None:
    assert len(day.task_truth) == 800
    derived = ScenarioConfig(agents=5, duration_ms=2 * HOUR_MS, tasks_per_agent_hour=3)
    assert derived.task_count() == 30
    assert len(generate(replace(derived, duration_ms=HOUR_MS)).task_truth) == 15


def test_channel_mix_is_respected() -> None:
    only_email = generate(
        ScenarioConfig(seed=4, agents=3, tasks=30, channels=ChannelMix(0, 0, 1, 0))
    )
    assert {t["channelType"] for t in only_email.task_truth.values()} == {"email"}
    assert not any(e["type"] == "capture:available" for e in only_email.events)


# --- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"agents": 0}, "agents"),
        ({"queues": 0}, "queues"),
        ({"duration_ms": 1000}, "duration_ms"),
        ({"tasks": -1}, "tasks"),
        ({"hold_probability": 1.5}, "hold_probability"),
        ({"v2_fraction": -0.1}, "v2_fraction"),
        ({"channels": ChannelMix(0, 0, 0, 0)}, "channels"),
        ({"timings": Timings(hold=(10, 5))}, "timings.hold"),
    ],
)
def test_bad_config_is_refused_naming_the_field(changes: dict[str, Any], name: str) -> None:
    with pytest.raises(ScenarioConfigError) as caught:
        ScenarioConfig(**changes)
    assert caught.value.name == name


def test_source_and_defaults() -> None:
    config = ScenarioConfig(subscription_id="SUB1")
    assert config.source == "/com/cisco/wxcc/SUB1"
    assert config.end_ms == config.start_ms + config.duration_ms


# --- summary and speed ----------------------------------------------------------------------


def test_summary_counts(day: Scenario) -> None:
    summary = summarize(day.events)
    assert summary.events == len(day.events)
    assert dict(summary.by_type) == dict(Counter(e["type"] for e in day.events))
    assert summary.tasks == len(day.task_truth)
    assert summary.agents == len(day.agent_truth)
    assert sum(n for _, n in summary.tasks_by_channel) == summary.tasks
    assert summary.first_time == day.events[0]["data"]["createdTime"]
    assert summary.last_time == day.events[-1]["data"]["createdTime"]
    text = str(summary)
    assert f"events: {len(day.events)}" in text
    assert "task:new: 800" in text
    empty = summarize([])
    assert (empty.events, empty.tasks, empty.first_time) == (0, 0, None)


def test_a_day_of_50_agents_and_2000_tasks_is_generated_whole() -> None:
    # speed is measured by bench/, not asserted here: tests never assert wall-clock times
    scenario = generate(ScenarioConfig(seed=50, agents=50, tasks=2000, duration_ms=10 * HOUR_MS))
    assert len(scenario.task_truth) == 2000
    assert len(scenario.agent_truth) == 50
