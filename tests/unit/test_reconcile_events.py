"""API records -> CloudEvents: the vendor's documented shapes map to valid events with
content-derived ids, and the simulator's records of a generated day map to events with
the same semantic identity as the webhooks they stand for (so each fact folds once)."""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
import pytest

from wxcc_stream.devtools.scenario import Scenario, ScenarioConfig, generate
from wxcc_stream.devtools.wxcc_api.activities import agent_activities
from wxcc_stream.devtools.wxcc_api.captures import capture_answer, recordings
from wxcc_stream.devtools.wxcc_api.day import ApiDay
from wxcc_stream.devtools.wxcc_api.tasks import task_histories, task_record
from wxcc_stream.ingress.export import ExportItem, Topics, archive_policy, record_of
from wxcc_stream.ingress.policy import AdmissionPolicy
from wxcc_stream.projections.event_order import semantic_identity
from wxcc_stream.reconcile.events import (
    Origin,
    activity_event,
    capture_events,
    cloud_event,
    epoch_ms,
    task_events,
)
from wxcc_stream.schemas.cloudevent import entity_keys, parse_event

ORIGIN = Origin("9dcb8657-ffad-45a1-9d8c-2f66e3b64f08", "/com/cisco/wxcc/AXXbfkWZ331_GLMMoS3N")

# The vendor's "Simple query" answer (reporting-samples/graphql-sample/taskDetails).
VENDOR_TASK = {
    "isActive": False,
    "id": "3da24a30-7221-49d2-af37-08700e9021c5",
    "createdTime": 1694007067723,
    "endedTime": 1694007101874,
    "totalDuration": 34151,
    "lastAgent": {"id": "c553caf3-1d2f-47b8-ac15-12c0c334da7a"},
    "queueCount": 0,
    "queueDuration": 0,
}
# An activity row with the fields of the vendor's AgentActivity model (times as strings,
# as that sample types them).
VENDOR_ACTIVITY = {
    "active": False,
    "agentId": "c553caf3-1d2f-47b8-ac15-12c0c334da7a",
    "agentDn": "+14085550100",
    "agentName": "Jane Doe",
    "currentState": "Idle",
    "siteId": "site-1",
    "teamId": "team1",
    "teamName": "team1",
    "isLogin": 0,
    "taskId": None,
    "idleCode": "AXyz-idle-1",
    "idleCodeName": "Lunch",
    "startTime": "1694007000000",
    "endTime": "1694007060000",
    "mmProfileType": "BLENDED",
    "agentSessionId": "5b0f4f2e-6f0a-4c57-bb34-a6a2c1b3e0a1",
}
VENDOR_CAPTURE = {
    "id": "rec-1",
    "segment": False,
    "attributes": {
        "fileName": "rec-1.wav",
        "filePath": "https://recordings.example/rec-1.wav?Expires=1&Signature=abc",
        "startTime": 1694007070000,
        "stopTime": 1694007105000,
        "participants": [],
    },
}


def test_a_vendor_task_record_maps_to_new_and_ended() -> None:
    events = task_events(VENDOR_TASK, ORIGIN)
    assert [(e["type"], e["data"]["createdTime"]) for e in events] == [
        ("task:new", 1694007067723),
        ("task:ended", 1694007101874),
    ]
    for event in events:
        parsed = parse_event(event)
        assert parsed.reconciled is True
        assert entity_keys(parsed)[0][1] == VENDOR_TASK["id"]
        # fields the record lacks are absent, never null: they would erase folded facts
        assert None not in event["data"].values()


def test_an_active_task_has_no_ended_event() -> None:
    active = {**VENDOR_TASK, "isActive": True, "endedTime": -1}
    assert [e["type"] for e in task_events(active, ORIGIN)] == ["task:new"]


def test_a_vendor_activity_row_maps_to_a_state_change() -> None:
    event = activity_event(VENDOR_ACTIVITY, ORIGIN)
    assert event is not None
    assert event["type"] == "agent:state_change"
    assert event["data"] == {
        "agentId": VENDOR_ACTIVITY["agentId"],
        "currentState": "idle",
        "destination": "+14085550100",
        "createdTime": 1694007000000,
        "teamId": "team1",
        "idleCodeId": "AXyz-idle-1",
    }
    parse_event(event)


@pytest.mark.parametrize(
    ("changes", "event_type"),
    [
        ({"isLogin": 1}, "agent:login"),
        ({"isLogin": "1"}, "agent:login"),
        ({"currentState": "logout"}, "agent:logout"),
        ({"currentState": "Available"}, "agent:state_change"),
    ],
)
def test_login_and_logout_rows(changes: dict[str, Any], event_type: str) -> None:
    event = activity_event({**VENDOR_ACTIVITY, **changes}, ORIGIN)
    assert event is not None
    assert event["type"] == event_type
    parse_event(event)


def test_a_v2_feed_gets_its_own_state_change_type() -> None:
    event = activity_event(VENDOR_ACTIVITY, ORIGIN, "agent:channel_state_change")
    assert event is not None
    assert event["type"] == "agent:channel_state_change"
    parse_event(event)
    with pytest.raises(ValueError, match="state change type"):
        activity_event(VENDOR_ACTIVITY, ORIGIN, "agent:login")


@pytest.mark.parametrize("start", [None, "-1", "", "soon", 0])
def test_a_row_without_a_time_maps_to_nothing(start: Any) -> None:
    assert activity_event({**VENDOR_ACTIVITY, "startTime": start}, ORIGIN) is None


def test_a_vendor_capture_maps_to_capture_available_without_its_signature() -> None:
    (event,) = capture_events(VENDOR_TASK["id"], [VENDOR_CAPTURE], ORIGIN)
    assert event["data"] == {
        "taskId": VENDOR_TASK["id"],
        "filePath": "https://recordings.example/rec-1.wav",
        "createdTime": 1694007105000,
    }
    parse_event(event)


def test_ids_come_from_content_alone() -> None:
    first = task_events(VENDOR_TASK, ORIGIN)
    assert first == task_events(dict(VENDOR_TASK), ORIGIN)
    later = task_events({**VENDOR_TASK, "endedTime": 1694007101875}, ORIGIN)
    assert first[0]["id"] == later[0]["id"]
    assert first[1]["id"] != later[1]["id"]
    other_org = Origin("another-org", ORIGIN.source)
    assert (
        cloud_event("task:new", {"a": 1}, other_org)["id"]
        != (cloud_event("task:new", {"a": 1}, ORIGIN)["id"])
    )


@pytest.mark.parametrize(
    ("value", "ms"), [(5, 5), ("17", 17), (-1, None), (0, None), (None, None), (True, None)]
)
def test_epoch_ms_reads_numbers_and_numeric_strings(value: Any, ms: int | None) -> None:
    assert epoch_ms(value) == ms


@cache
def _day() -> Scenario:
    return generate(ScenarioConfig(seed=4, subscription_id="AXXbfkWZ331_GLMMoS3N"))


def _identities(events: list[dict[str, Any]]) -> set[Any]:
    found = set()
    for raw in events:
        event = parse_event(raw)
        for kind, entity_id in entity_keys(event):
            found.add(semantic_identity(kind, entity_id, event))
    return found


def test_mapped_simulator_records_have_the_webhooks_identities() -> None:
    scenario = _day()
    origin = Origin(scenario.config.org_id, scenario.config.source)
    end = ApiDay(scenario).end_ms
    agent_events = [activity_event(row.at(end), origin) for row in agent_activities(scenario)]
    reconciled = [e for e in agent_events if e is not None]
    for history in task_histories(scenario):
        reconciled += task_events(task_record(history, scenario.directory, end), origin)
    known = recordings(scenario)
    for entry in capture_answer(
        list(known), known, now_ms=end, issued_ms=0, url_expiration_min=5, key=b"k"
    ):
        reconciled += capture_events(entry["taskId"], entry["recording"], origin)
    webhooks = [
        e
        for e in scenario.events
        if e["type"].startswith("agent:")
        or e["type"] in ("task:new", "task:ended", "capture:available")
    ]
    assert len(reconciled) == len(webhooks)
    assert _identities(reconciled) == _identities(webhooks)
    assert len({e["id"] for e in reconciled}) == len(reconciled)


def test_mapped_events_enter_by_the_archive_path_keyed_like_the_ingress() -> None:
    """The ingress's own admission takes them where wxcc-stream's events are allowed (the
    archive path, as backfill) and refuses the marker on the webhook path."""
    scenario = _day()
    origin = Origin(scenario.config.org_id, scenario.config.source)
    history = task_histories(scenario)[0]
    events = task_events(task_record(history, scenario.directory, 10**13), origin)
    live = AdmissionPolicy(
        verify_signatures=False,
        allowed_orgs=frozenset({origin.org_id}),
        allowed_subscriptions=frozenset({scenario.config.subscription_id}),
    )
    topics = Topics(raw="wxcc.raw", deadletter="wxcc.deadletter")
    for event in events:
        item = ExportItem(1, orjson.dumps(event))
        record, refused = record_of(
            item, file="reconcile", policy=archive_policy(live), topics=topics, now_ms=0
        )
        assert refused is None
        assert record.topic == "wxcc.raw"
        assert record.key == history.task_id.encode()
        _, refused = record_of(item, file="reconcile", policy=live, topics=topics, now_ms=0)
        assert refused is not None
