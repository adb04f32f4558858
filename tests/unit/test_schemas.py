"""Parsing of WxCC CloudEvents into `Event`: vendor examples, malformed input, tolerance."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from wxcc_stream.schemas.cloudevent import (
    SchemaError,
    decode_json,
    entity_keys,
    parse_event,
    parse_event_bytes,
)
from wxcc_stream.schemas.event import EntityKind, Event, TimeSource
from wxcc_stream.schemas.files import cloudevent_schema, event_schema, vendor_examples
from wxcc_stream.schemas.models import EVENT_TYPES

RECEIVED_AT = 1_700_000_000_123
EXAMPLES = vendor_examples()


def example(event_type: str) -> dict[str, Any]:
    """A fresh, mutable copy of the vendor's example of `event_type`."""
    loaded: dict[str, Any] = orjson.loads(EXAMPLES[event_type])
    return loaded


# What the vendor reference says about each example, read off the seed page by hand:
# entity kind, the org attribute spelling it uses, and whether it has a createdTime.
VENDOR_FACTS = {
    "agent:login": (EntityKind.AGENT, "comciscocorgid", True),
    "agent:logout": (EntityKind.AGENT, "comciscoorgid", True),
    "agent:state_change": (EntityKind.AGENT, "comciscoorgid", True),
    "capture:available": (EntityKind.TASK, "comciscoorgid", True),
    "task:new": (EntityKind.TASK, "comciscocorgid", True),
    "task:parked": (EntityKind.TASK, "comciscocorgid", True),
    "task:connect": (EntityKind.TASK, "comciscocorgid", True),
    "task:connected": (EntityKind.TASK, "comciscocorgid", True),
    "task:on-hold": (EntityKind.TASK, "comciscocorgid", True),
    "task:hold-done": (EntityKind.TASK, "comciscocorgid", True),
    "task:consulting": (EntityKind.TASK, "comciscocorgid", True),
    "task:consult-done": (EntityKind.TASK, "comciscocorgid", True),
    "task:conferencing": (EntityKind.TASK, "comciscocorgid", True),
    "task:conference-done": (EntityKind.TASK, "comciscocorgid", False),
    "task:ended": (EntityKind.TASK, "comciscocorgid", True),
}


def test_vendor_facts_cover_every_event_type() -> None:
    assert set(VENDOR_FACTS) == set(EVENT_TYPES) == set(EXAMPLES)
    assert len(EVENT_TYPES) == 15


@pytest.mark.parametrize("event_type", sorted(VENDOR_FACTS))
def test_vendor_example_parses_and_validates(event_type: str) -> None:
    kind, org_attribute, has_created_time = VENDOR_FACTS[event_type]
    raw = example(event_type)
    Draft202012Validator(event_schema(event_type)).validate(raw)
    Draft202012Validator(cloudevent_schema()).validate(raw)

    event = parse_event_bytes(EXAMPLES[event_type], received_at=RECEIVED_AT)

    assert event.type == event_type
    assert event.entity_kind is kind
    id_key = "agentId" if kind is EntityKind.AGENT else "taskId"
    assert event.entity_id == raw["data"][id_key]
    assert event.org_id == raw[org_attribute]
    assert event.ce_id == raw["id"]
    assert event.ce_source == raw["source"]
    assert event.data == raw["data"]
    assert event.received_at == RECEIVED_AT
    assert event.reconciled is False
    assert event.extensions == {"datacontenttype": "application/json"}
    if has_created_time:
        assert event.time_source is TimeSource.CREATED_TIME
        assert event.created_time == raw["data"]["createdTime"]
        assert not event.time_inferred
    else:
        assert event.time_source is TimeSource.RECEIVED_AT
        assert event.created_time == RECEIVED_AT
        assert event.time_inferred


def test_conference_done_example_without_any_time_names_created_time() -> None:
    with pytest.raises(SchemaError) as caught:
        parse_event_bytes(EXAMPLES["task:conference-done"])
    assert caught.value.field == "data.createdTime"


def test_vendor_inconsistencies_are_kept_as_received() -> None:
    login = parse_event_bytes(EXAMPLES["agent:login"])
    change = parse_event_bytes(EXAMPLES["agent:state_change"])
    connect = parse_event_bytes(EXAMPLES["task:connect"])
    assert login.data["currentState"] == "Idle"
    assert change.data["currentState"] == "idle"
    assert "outboundType" in connect.data
    assert connect.data["outboundType"] is None


# --- malformed input -------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _drop(key: str) -> Mutation:
    return lambda raw: raw.pop(key)


def _set(key: str, value: Any) -> Mutation:
    return lambda raw: raw.__setitem__(key, value)


def _drop_data(key: str) -> Mutation:
    return lambda raw: raw["data"].pop(key)


def _set_data(key: str, value: Any) -> Mutation:
    return lambda raw: raw["data"].__setitem__(key, value)


def _both(*mutations: Mutation) -> Mutation:
    def apply(raw: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(raw)

    return apply


MALFORMED: list[tuple[str, str, Mutation, str]] = [
    ("task:connect", "missing id", _drop("id"), "id"),
    ("task:connect", "empty id", _set("id", ""), "id"),
    ("task:connect", "numeric id", _set("id", 42), "id"),
    ("task:connect", "missing type", _drop("type"), "type"),
    ("task:connect", "null type", _set("type", None), "type"),
    ("task:connect", "missing source", _drop("source"), "source"),
    ("task:connect", "empty source", _set("source", ""), "source"),
    ("task:connect", "missing specversion", _drop("specversion"), "specversion"),
    ("task:connect", "specversion 0.3", _set("specversion", "0.3"), "specversion"),
    ("task:connect", "numeric specversion", _set("specversion", 1.0), "specversion"),
    ("task:connect", "data a string", _set("data", "taskId=1"), "data"),
    ("task:connect", "data an array", _set("data", [1]), "data"),
    ("task:connect", "data null", _set("data", None), "data"),
    ("task:connect", "no data", _drop("data"), "data"),
    ("agent:login", "missing agentId", _drop_data("agentId"), "data.agentId"),
    ("agent:logout", "empty agentId", _set_data("agentId", ""), "data.agentId"),
    ("agent:state_change", "numeric agentId", _set_data("agentId", 7), "data.agentId"),
    ("task:connect", "missing taskId", _drop_data("taskId"), "data.taskId"),
    ("task:ended", "null taskId", _set_data("taskId", None), "data.taskId"),
    ("capture:available", "missing taskId", _drop_data("taskId"), "data.taskId"),
    ("task:new", 'createdTime "123"', _set_data("createdTime", "123"), "data.createdTime"),
    ("task:new", "createdTime 1.5", _set_data("createdTime", 1.5), "data.createdTime"),
    ("agent:login", "createdTime true", _set_data("createdTime", True), "data.createdTime"),
    ("task:new", "createdTime null", _set_data("createdTime", None), "data.createdTime"),
    ("task:new", "createdTime negative", _set_data("createdTime", -1), "data.createdTime"),
    ("task:new", "createdTime huge", _set_data("createdTime", 10**18), "data.createdTime"),
    ("task:new", "createdTime object", _set_data("createdTime", {}), "data.createdTime"),
    (
        "task:conference-done",
        "comciscotimestamp letters",
        _set("comciscotimestamp", "12a"),
        "comciscotimestamp",
    ),
    (
        "task:new",
        "comciscotimestamp fraction",
        _set("comciscotimestamp", 1.25),
        "comciscotimestamp",
    ),
    ("task:new", "comciscotimestamp bool", _set("comciscotimestamp", False), "comciscotimestamp"),
    ("task:new", "numeric org", _set("comciscocorgid", 9), "comciscocorgid"),
    ("agent:logout", "org object", _set("comciscoorgid", {"id": "x"}), "comciscoorgid"),
    # A bad spelling is caught even when the other spelling is fine.
    ("agent:logout", "second org bad", _set("comciscocorgid", ["x"]), "comciscocorgid"),
    ("task:new", "reconciled string", _set("wxccstreamreconciled", "true"), "wxccstreamreconciled"),
    ("task:new", "datacontenttype number", _set("datacontenttype", 1), "datacontenttype"),
    (
        "task:new",
        "unknown type, no ids",
        _both(_set("type", "task:failed"), _drop_data("taskId")),
        "data.taskId",
    ),
    (
        "agent:login",
        "agent v2 type without agentId",
        _both(_set("type", "agent:channel_state_change"), _drop_data("agentId")),
        "data.agentId",
    ),
    (
        "task:new",
        "other namespace, no ids",
        _both(_set("type", "task-message:new"), _drop_data("taskId")),
        "data.taskId",
    ),
    (
        "agent:login",
        "agent-ish namespace, no ids",
        _both(_set("type", "agentx:thing"), _drop_data("agentId")),
        "data.agentId",
    ),
    ("task:conference-done", "no time at all", lambda raw: None, "data.createdTime"),
]


@pytest.mark.parametrize(
    ("event_type", "mutation", "field"),
    [pytest.param(t, m, f, id=name) for t, name, m, f in MALFORMED],
)
def test_malformed_event_names_the_field(event_type: str, mutation: Mutation, field: str) -> None:
    raw = example(event_type)
    # The unmutated example must parse, so the failure is the mutation's doing.
    parse_event(
        copy.deepcopy(raw), received_at=RECEIVED_AT if event_type.endswith("-done") else None
    )
    mutation(raw)
    with pytest.raises(SchemaError) as caught:
        parse_event(raw)
    err = caught.value
    assert err.field == field
    assert err.reason
    assert str(err) == f"{field}: {err.reason}"


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"id": "a",}', b"\xff\xfe", b'{"a": NaN}', b"nul"],
    ids=["empty", "unclosed", "trailing comma", "not utf-8", "nan", "bad literal"],
)
def test_invalid_json_names_the_body_and_position(body: bytes) -> None:
    with pytest.raises(SchemaError) as caught:
        parse_event_bytes(body, received_at=RECEIVED_AT)
    assert caught.value.field == "body"
    assert "invalid JSON" in caught.value.reason
    assert "char" in caught.value.reason


@pytest.mark.parametrize("body", [b"[]", b"1", b'"x"', b"null"], ids=lambda b: b.decode())
def test_json_that_is_not_an_object_names_the_body(body: bytes) -> None:
    with pytest.raises(SchemaError) as caught:
        parse_event_bytes(body, received_at=RECEIVED_AT)
    assert caught.value.field == "body"
    assert "object" in caught.value.reason


def test_decode_json_returns_the_document() -> None:
    assert decode_json(b'{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}


def test_schema_error_is_a_value_error_that_pickles() -> None:
    err = SchemaError("data.taskId", "missing")
    assert isinstance(err, ValueError)
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.field, clone.reason, str(clone)) == ("data.taskId", "missing", str(err))


# --- tolerance ------------------------------------------------------------------------


@pytest.mark.parametrize("attribute", ["comciscoorgid", "comciscocorgid"])
def test_either_org_spelling_gives_the_org(attribute: str) -> None:
    raw = example("task:connected")
    raw.pop("comciscocorgid")
    raw[attribute] = "org-7"
    event = parse_event(raw)
    assert event.org_id == "org-7"
    assert attribute not in event.extensions


def test_both_org_spellings_prefer_comciscoorgid_and_keep_the_other() -> None:
    raw = example("agent:logout")
    raw["comciscocorgid"] = "other-org"
    event = parse_event(raw)
    assert event.org_id == raw["comciscoorgid"]
    assert event.extensions["comciscocorgid"] == "other-org"


@pytest.mark.parametrize(
    "org_attributes",
    [{}, {"comciscoorgid": None}, {"comciscocorgid": ""}],
    ids=["absent", "null", "empty"],
)
def test_no_org_gives_none(org_attributes: dict[str, Any]) -> None:
    raw = example("capture:available")
    raw.pop("comciscoorgid")
    raw.update(org_attributes)
    assert parse_event(raw).org_id is None


def test_empty_org_falls_back_to_the_other_spelling() -> None:
    raw = example("task:ended")
    raw["comciscoorgid"] = ""
    assert parse_event(raw).org_id == raw["comciscocorgid"]


@pytest.mark.parametrize("state", ["Idle", "idle", "IDLE", "Available"])
def test_agent_state_any_case_is_accepted_unchanged(state: str) -> None:
    raw = example("agent:state_change")
    raw["data"]["currentState"] = state
    assert parse_event(raw).data["currentState"] == state


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        (1_700_000_000_500, 1_700_000_000_500),
        ("1700000000500", 1_700_000_000_500),
        (1.7e12, 1_700_000_000_000),
    ],
    ids=["number", "string", "integral float"],
)
def test_time_falls_back_to_comciscotimestamp(stamp: Any, expected: int) -> None:
    raw = example("task:conference-done")
    raw["comciscotimestamp"] = stamp
    event = parse_event(raw, received_at=RECEIVED_AT)
    assert event.created_time == expected
    assert isinstance(event.created_time, int)
    assert event.time_source is TimeSource.COMCISCOTIMESTAMP
    # Kept as received, since `Event` has no field of its own for it.
    assert event.extensions["comciscotimestamp"] == stamp


def test_created_time_wins_over_the_fallbacks() -> None:
    raw = example("task:hold-done")
    raw["comciscotimestamp"] = "1700000000999"
    event = parse_event(raw, received_at=RECEIVED_AT)
    assert event.created_time == raw["data"]["createdTime"]
    assert event.time_source is TimeSource.CREATED_TIME


def test_integral_float_created_time_becomes_an_int() -> None:
    raw = example("task:new")
    raw["data"]["createdTime"] = 160269663691.0
    event = parse_event(raw)
    assert event.created_time == 160269663691
    assert type(event.created_time) is int


@pytest.mark.parametrize(("flag", "expected"), [(True, True), (False, False), (None, False)])
def test_reconciled_marker(flag: bool | None, expected: bool) -> None:
    raw = example("task:ended")
    raw["wxccstreamreconciled"] = flag
    event = parse_event(raw)
    assert event.reconciled is expected
    assert "wxccstreamreconciled" not in event.extensions


def test_unknown_fields_survive_the_round_trip() -> None:
    raw = example("agent:state_change")
    raw["data"]["channelState"] = {"chat": ["c1", {"deep": None}], "n": 2.5}
    raw["data"]["futureFlag"] = True
    raw["comciscofuture"] = {"x": [1, "two"]}
    raw["subject"] = "agent/8e18afd"
    event = parse_event(raw, received_at=RECEIVED_AT)
    back = Event.from_json(event.to_json())
    assert back == event
    assert back.data["channelState"] == {"chat": ["c1", {"deep": None}], "n": 2.5}
    assert back.data["futureFlag"] is True
    assert back.extensions["comciscofuture"] == {"x": [1, "two"]}
    assert back.extensions["subject"] == "agent/8e18afd"


def test_parse_does_not_share_the_callers_data_object() -> None:
    raw = example("task:new")
    event = parse_event(raw)
    raw["data"]["taskId"] = "changed"
    assert event.data["taskId"] != "changed"


@pytest.mark.parametrize(
    ("event_type", "data", "kind", "entity_id"),
    [
        ("agent:channel_state_change", {"agentId": "a1", "taskId": "t1"}, EntityKind.AGENT, "a1"),
        ("task:failed", {"taskId": "t1", "agentId": "a1"}, EntityKind.TASK, "t1"),
        ("task:origin-updated", {"taskId": "t2"}, EntityKind.TASK, "t2"),
        ("task-message:new", {"taskId": "t3", "agentId": "a3"}, EntityKind.TASK, "t3"),
        ("task-message:new", {"agentId": "a4"}, EntityKind.AGENT, "a4"),
        ("task-message:new", {"agentId": "a5", "taskId": ""}, EntityKind.AGENT, "a5"),
        ("agentx:thing", {"taskId": "t6"}, EntityKind.TASK, "t6"),
        ("agentx:thing", {"agentId": "a7", "taskId": "t7"}, EntityKind.AGENT, "a7"),
    ],
)
def test_unknown_types_are_accepted(
    event_type: str, data: dict[str, Any], kind: EntityKind, entity_id: str
) -> None:
    raw = {
        "id": "e1",
        "source": "/com/cisco/wxcc/sub1",
        "specversion": "1.0",
        "type": event_type,
        "data": {**data, "createdTime": 5},
    }
    event = parse_event(raw)
    assert (event.entity_kind, event.entity_id, event.type) == (kind, entity_id, event_type)


# --- entity keys -----------------------------------------------------------------------


@pytest.mark.parametrize("event_type", ["agent:state_change", "agent:channel_state_change"])
def test_agent_state_change_with_a_task_feeds_the_task_stream(event_type: str) -> None:
    raw = example("agent:state_change")
    raw["type"] = event_type
    event = parse_event(raw)
    assert entity_keys(event) == (
        (EntityKind.AGENT, raw["data"]["agentId"]),
        (EntityKind.TASK, raw["data"]["taskId"]),
    )


@pytest.mark.parametrize("task_id", [None, "", 12], ids=["null", "empty", "number"])
def test_agent_state_change_without_a_task_feeds_only_the_agent(task_id: Any) -> None:
    raw = example("agent:state_change")
    raw["data"]["taskId"] = task_id
    event = parse_event(raw)
    assert entity_keys(event) == ((EntityKind.AGENT, raw["data"]["agentId"]),)


@pytest.mark.parametrize("event_type", ["agent:login", "agent:logout"])
def test_other_agent_events_with_a_task_id_feed_only_the_agent(event_type: str) -> None:
    raw = example(event_type)
    raw["data"]["taskId"] = "t-1"
    event = parse_event(raw)
    assert entity_keys(event) == ((EntityKind.AGENT, raw["data"]["agentId"]),)


@pytest.mark.parametrize("event_type", sorted(t for t in EVENT_TYPES if not t.startswith("agent")))
def test_task_and_capture_events_feed_their_task(event_type: str) -> None:
    event = parse_event(example(event_type), received_at=RECEIVED_AT)
    assert entity_keys(event) == ((EntityKind.TASK, example(event_type)["data"]["taskId"]),)
