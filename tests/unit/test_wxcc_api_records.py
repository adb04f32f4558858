"""The simulated API's records come from the generator's own day and agree with its truth."""

from __future__ import annotations

import itertools
from functools import cache

import pytest

from wxcc_stream.devtools.scenario import Scenario, ScenarioConfig, generate
from wxcc_stream.devtools.wxcc_api.activities import agent_activities
from wxcc_stream.devtools.wxcc_api.captures import capture_answer, recordings, signed_url
from wxcc_stream.devtools.wxcc_api.day import ApiDay
from wxcc_stream.devtools.wxcc_api.tasks import task_histories, task_record

ACTIVITY_FIELDS = {
    "agentId", "agentSessionId", "agentName", "agentDn", "teamId", "teamName", "siteId",
    "currentState", "isLogin", "taskId", "channelId", "channelType", "idleCode",
    "idleCodeName", "queueId", "queueName", "wrapupCodeName", "reason", "startTime",
    "endTime", "active", "mmProfileType",
}  # fmt: skip
# Search field -> task-lifecycle truth field, equal once the day is over
TRUTH_FIELDS = {
    "endedTime": "endedTime",
    "holdCount": "holdCount",
    "holdDuration": "holdMs",
    "consultCount": "consultCount",
    "conferenceCount": "conferenceCount",
    "wrapupDuration": "wrapUpMs",
    "channelType": "channelType",
    "direction": "direction",
    "origin": "origin",
    "destination": "destination",
}


@cache
def _day() -> Scenario:
    return generate(ScenarioConfig(seed=3))


@cache
def _end_of_day() -> int:
    return ApiDay(_day()).end_ms


def _end(scenario: Scenario) -> int:
    assert scenario is _day()
    return _end_of_day()


def test_one_activity_row_per_agent_event_with_the_vendor_field_names() -> None:
    scenario = _day()
    rows = agent_activities(scenario)
    agent_events = [e for e in scenario.events if e["type"].startswith("agent:")]
    assert len(rows) == len(agent_events)
    assert [r.start for r in rows] == sorted(r.start for r in rows)
    assert all(set(r.at(_end(scenario))) == ACTIVITY_FIELDS for r in rows)
    logins = [r for r in rows if r.fields["isLogin"] == 1]
    assert len(logins) == sum(e["type"] == "agent:login" for e in agent_events)


def test_a_row_lasts_until_the_agents_next_row_and_is_open_while_going() -> None:
    scenario = _day()
    rows = agent_activities(scenario)
    agent = rows[0].fields["agentId"]
    mine = [r for r in rows if r.fields["agentId"] == agent]
    for row, following in itertools.pairwise(mine):
        assert row.end == following.start
    middle = mine[len(mine) // 2]
    assert middle.at(middle.start)["endTime"] == -1
    assert middle.at(middle.start)["active"] is True
    assert middle.at(_end(scenario))["endTime"] == middle.end


def test_agent_states_and_codes_are_named() -> None:
    rows = [r.at(_end(_day())) for r in agent_activities(_day())]
    idle = [r for r in rows if r["currentState"] == "idle"]
    assert idle
    assert all(r["idleCode"] and r["idleCodeName"] for r in idle)
    wrapped = [r for r in rows if r["currentState"] == "wrapup-done"]
    assert wrapped
    assert all(r["wrapupCodeName"] for r in wrapped)
    on_task = [r for r in rows if r["taskId"]]
    assert all(r["channelType"] and r["channelId"] for r in on_task)


def test_final_task_records_equal_the_generators_truth() -> None:
    scenario = _day()
    for history in task_histories(scenario):
        record = task_record(history, scenario.directory, _end(scenario))
        truth = scenario.task_truth[history.task_id]
        for api_field, truth_field in TRUTH_FIELDS.items():
            assert record[api_field] == truth[truth_field], (history.task_id, api_field)
        assert record["lastQueue"]["id"] == truth["queueId"]
        assert record["createdTime"] == truth["newTime"]
        assert record["isActive"] is False
        if truth["connectedTime"] is not None:
            assert record["ringingDuration"] == truth["ringMs"]
            assert record["connectedDuration"] == truth["talkMs"]
            assert record["lastAgent"]["id"] in truth["agentIds"]
            assert record["terminatingEnd"] == truth["terminatingParty"].lower()
        else:
            assert record["lastAgent"] is None
            assert record["terminationType"] == "abandoned"


def test_a_task_still_going_at_the_clock_is_active_with_durations_so_far() -> None:
    scenario = _day()
    history = next(h for h in task_histories(scenario) if len(h.events) > 6)
    now = history.events[3]["data"]["createdTime"]
    record = task_record(history, scenario.directory, now)
    assert record["isActive"] is True
    assert record["endedTime"] is None
    assert record["totalDuration"] == now - history.created


def test_captures_are_the_generators_recordings_with_expiring_urls() -> None:
    scenario = _day()
    known = recordings(scenario)
    task_id = next(iter(known))
    answer = capture_answer(
        [task_id, "unknown-task"],
        known,
        now_ms=_end(scenario),
        issued_ms=1_000_000,
        url_expiration_min=5,
        key=b"k",
    )
    assert answer[1] == {"taskId": "unknown-task", "recording": [], "transcription": []}
    paths = [r["attributes"]["filePath"] for r in answer[0]["recording"]]
    truth = scenario.task_truth[task_id]["captures"]
    assert sorted(p.split("?")[0] for p in paths) == truth
    assert all(f"Expires={(1_000_000 + 300_000) // 1000}" in p for p in paths)


@pytest.mark.parametrize(("key", "expires"), [(b"a", 10_000), (b"b", 10_000), (b"a", 20_000)])
def test_a_signed_url_depends_on_key_and_expiry(key: bytes, expires: int) -> None:
    assert signed_url("https://r/x.wav", expires, key) != signed_url(
        "https://r/x.wav", 30_000, b"c"
    )
