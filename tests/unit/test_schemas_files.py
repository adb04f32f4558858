"""The JSON Schema files, the projection schemas and the vendor example files."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from wxcc_stream.schemas.files import (
    PROJECTIONS,
    cloudevent_schema,
    event_schema,
    projection_schema,
    vendor_examples,
)
from wxcc_stream.schemas.models import AGENT_TYPES, EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]
# The vendor page the examples come from; CI lays shared/ beside the clone.
SEED = ROOT.parent / "shared" / "seed" / "wxcc-webhooks.txt"
PROJECTIONS_DOC = ROOT / "docs" / "projections.md"
EXAMPLES = {t: orjson.loads(raw) for t, raw in vendor_examples().items()}


def all_schemas() -> list[tuple[str, dict[str, Any]]]:
    """Every schema file with a name for test ids."""
    named = [(t, event_schema(t)) for t in sorted(EVENT_TYPES)]
    named.append(("cloudevent", cloudevent_schema()))
    named += [(f"projection.{p}", projection_schema(p)) for p in PROJECTIONS]
    return named


def is_valid(schema: dict[str, Any], instance: Any) -> bool:
    """Whether `instance` validates against `schema` (draft 2020-12)."""
    return bool(Draft202012Validator(schema).is_valid(instance))


@pytest.mark.parametrize(("name", "schema"), all_schemas(), ids=[n for n, _ in all_schemas()])
def test_schema_files_are_valid_draft_2020_12(name: str, schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].startswith("urn:wxcc-stream:schema:")


def test_schema_ids_are_distinct() -> None:
    ids = [schema["$id"] for _, schema in all_schemas()]
    assert len(ids) == len(set(ids)) == 18


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_event_schema_shape_matches_the_model(event_type: str) -> None:
    schema = event_schema(event_type)
    assert schema["title"] == event_type
    assert schema["properties"]["type"]["const"] == event_type
    data = schema["properties"]["data"]
    id_key = "agentId" if event_type in AGENT_TYPES else "taskId"
    assert data["required"] == [id_key]
    assert list(data["properties"]) == list(EVENT_TYPES[event_type].vendor_fields())
    assert data["additionalProperties"] is True
    assert schema["additionalProperties"] is True


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_event_schema_envelope_matches_the_envelope_schema(event_type: str) -> None:
    # The event schemas are self-contained copies of the envelope: keep them in step.
    envelope = cloudevent_schema()
    schema = event_schema(event_type)
    strip = {"type", "data"}
    assert {k: v for k, v in schema["properties"].items() if k not in strip} == {
        k: v for k, v in envelope["properties"].items() if k not in strip
    }
    assert schema["required"] == envelope["required"]


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_event_schema_allows_extras_and_enforces_the_contract(event_type: str) -> None:
    schema = event_schema(event_type)
    raw = copy.deepcopy(EXAMPLES[event_type])
    raw["data"]["somethingNew"] = [1, {"a": None}]
    raw["comciscosomething"] = {"b": 2}
    assert is_valid(schema, raw)
    id_key = "agentId" if event_type in AGENT_TYPES else "taskId"
    bad_cases: list[tuple[str, Any]] = [
        (id_key, None),
        (id_key, ""),
        ("createdTime", "123"),
        ("createdTime", 1.5),
        ("createdTime", True),
        ("createdTime", -1),
    ]
    for key, value in bad_cases:
        bad = copy.deepcopy(raw)
        bad["data"][key] = value
        assert not is_valid(schema, bad), (key, value)
    missing = copy.deepcopy(raw)
    del missing["data"][id_key]
    assert not is_valid(schema, missing)
    for attribute in ("id", "source", "specversion", "type", "data"):
        without = copy.deepcopy(raw)
        del without[attribute]
        assert not is_valid(schema, without), attribute
    other = copy.deepcopy(raw)
    other["type"] = "task:failed"
    assert not is_valid(schema, other)
    old = copy.deepcopy(raw)
    old["specversion"] = "0.3"
    assert not is_valid(schema, old)


def test_event_schema_allows_null_outbound_type_but_not_a_number() -> None:
    schema = event_schema("task:connect")
    raw = copy.deepcopy(EXAMPLES["task:connect"])
    assert raw["data"]["outboundType"] is None
    assert is_valid(schema, raw)
    raw["data"]["outboundType"] = 3
    assert not is_valid(schema, raw)


def test_event_schema_accepts_created_time_missing() -> None:
    raw = copy.deepcopy(EXAMPLES["task:connected"])
    del raw["data"]["createdTime"]
    assert is_valid(event_schema("task:connected"), raw)


@pytest.mark.parametrize(
    ("event_type", "data", "valid"),
    [
        ("agent:channel_state_change", {"agentId": "a"}, True),
        ("agent:channel_state_change", {"taskId": "t"}, False),
        ("capture:available", {"agentId": "a"}, False),
        ("task:failed", {"taskId": "t"}, True),
        ("task-message:new", {"agentId": "a"}, True),
        ("task-message:new", {"taskId": ""}, False),
        ("task-message:new", {}, False),
    ],
)
def test_envelope_schema_entity_rules(event_type: str, data: dict[str, Any], valid: bool) -> None:
    raw = {"id": "1", "source": "/s", "specversion": "1.0", "type": event_type, "data": data}
    assert is_valid(cloudevent_schema(), raw) is valid


@pytest.mark.parametrize(
    ("stamp", "valid"),
    [
        (1, True),
        ("1700000000000", True),
        (None, True),
        ("17a", False),
        ("12\n", False),
        (1.5, False),
    ],
)
def test_envelope_schema_timestamp(stamp: Any, valid: bool) -> None:
    raw = copy.deepcopy(EXAMPLES["task:new"])
    raw["comciscotimestamp"] = stamp
    assert is_valid(cloudevent_schema(), raw) is valid


def test_loaders_return_fresh_copies_and_reject_unknown_names() -> None:
    first = event_schema("task:new")
    first["title"] = "changed"
    assert event_schema("task:new")["title"] == "task:new"
    with pytest.raises(KeyError):
        event_schema("task:failed")
    with pytest.raises(KeyError):
        projection_schema("queue-stats")


# --- projections ----------------------------------------------------------------------


def documented_fields() -> list[list[str]]:
    """The "Document fields:" lists of docs/projections.md, in page order."""
    text = PROJECTIONS_DOC.read_text(encoding="utf-8")
    lists = []
    for block in re.findall(r"Document fields:(.*?)(?:\n\n|\Z)", text, flags=re.S):
        flat = re.sub(r"\([^()]*\)", "", block.replace("`", ""))
        lists.append([item.split()[0] for item in flat.split(",") if item.strip()])
    return lists


def test_projection_schemas_require_exactly_the_documented_fields() -> None:
    agent_fields, task_fields = documented_fields()
    for name, fields in (("agent-state", agent_fields), ("task-lifecycle", task_fields)):
        schema = projection_schema(name)
        assert len(fields) > 15
        assert sorted(schema["required"]) == sorted(fields), name
        assert sorted(schema["properties"]) == sorted(fields), name
        assert schema["properties"]["schema_version"] == {"const": 1}
        assert schema["additionalProperties"] is False


AGENT_START: dict[str, Any] = {
    "agentId": "a1",
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
AGENT_LATER: dict[str, Any] = {
    **AGENT_START,
    "orgId": "o1",
    "teamId": "team",
    "loggedIn": True,
    "state": "connected",
    "stateSince": 160269666391,
    "idleCodeId": "5",
    "taskIds": ["t1", "t2"],
    "connectedChannels": ["c1"],
    "destination": "31476521",
    "profileType": "BLENDED",
    "sessionStart": 160269666000,
    "timeInState": {"available": 300, "idle": 91},
    "lastEventTime": 160269666391,
    "lastEventId": "e9",
    "revision": 4,
}
TASK_START: dict[str, Any] = {
    "taskId": "t1",
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
TASK_LATER: dict[str, Any] = {
    **TASK_START,
    "orgId": "o1",
    "channelType": "telephony",
    "direction": "INBOUND",
    "origin": "1+9****8095",
    "destination": "1+5****2001",
    "queueId": "q1",
    "status": "ended",
    "newTime": 100,
    "parkedTime": 110,
    "connectTime": 150,
    "connectedTime": 160,
    "endedTime": 400,
    "queueWaitMs": 40,
    "ringMs": 10,
    "talkMs": 200,
    "holdCount": 1,
    "holdMs": 40,
    "wrapUpMs": 30,
    "agentIds": ["a1"],
    "legs": {
        "a1": {
            "state": "done",
            "since": 430,
            "timeInState": {"connected": 240, "wrapup": 30},
            "wrapUpAuxCodeId": "3183",
        }
    },
    "terminatingParty": "Customer",
    "reason": "Customer left",
    "captures": ["https://example.invalid/c1"],
    "lastEventTime": 430,
    "lastEventId": "e12",
    "revision": 9,
}
DOCS = {
    "agent-state": [AGENT_START, AGENT_LATER],
    "task-lifecycle": [TASK_START, TASK_LATER],
}


@pytest.mark.parametrize("name", PROJECTIONS)
def test_projection_documents_validate(name: str) -> None:
    schema = projection_schema(name)
    for doc in DOCS[name]:
        Draft202012Validator(schema).validate(doc)


@pytest.mark.parametrize("name", PROJECTIONS)
def test_projection_schema_rejects_missing_extra_and_wrong_fields(name: str) -> None:
    schema = projection_schema(name)
    doc = DOCS[name][1]
    for key in doc:
        without = {k: v for k, v in doc.items() if k != key}
        assert not is_valid(schema, without), key
    assert not is_valid(schema, {**doc, "lastConnectTime": 1})
    assert not is_valid(schema, {**doc, "schema_version": 2})
    assert not is_valid(schema, {**doc, "revision": -1})
    assert not is_valid(schema, {**doc, "lastEventTime": "1"})


def test_task_leg_schema_is_strict() -> None:
    schema = projection_schema("task-lifecycle")
    leg = TASK_LATER["legs"]["a1"]
    for key in leg:
        broken = {k: v for k, v in leg.items() if k != key}
        with pytest.raises(ValidationError):
            Draft202012Validator(schema).validate({**TASK_LATER, "legs": {"a1": broken}})
    assert not is_valid(schema, {**TASK_LATER, "status": "hold-done"})


# --- vendor examples ------------------------------------------------------------------


def test_vendor_examples_are_keyed_by_their_type() -> None:
    assert set(EXAMPLES) == set(EVENT_TYPES)
    for event_type, doc in EXAMPLES.items():
        assert doc["type"] == event_type


def seed_examples(text: str) -> dict[str, list[tuple[str, Any]]]:
    """Each event of the seed page as (field, example value) pairs, data fields prefixed."""
    field_line = re.compile(r"^(\w+) \(([\w\[\]]+)\)(.*)$")
    events: list[list[tuple[str, Any]]] = []
    prefix, pending = "", None
    for line in (raw.strip() for raw in text.splitlines()):
        if re.fullmatch(r"EVENT\S+", line):
            events.append([])
            prefix, pending = "", None
        elif not events:
            continue
        elif line == "Data Object":
            prefix = "data."
        elif match := field_line.match(line):
            pending = prefix + match.group(1)
            if "Example: " in match.group(3):  # the one-line layout of agent:state_change
                events[-1].append((pending, orjson.loads(match.group(3).split("Example: ", 1)[1])))
                pending = None
        elif line.startswith("Example: ") and pending is not None:
            events[-1].append((pending, orjson.loads(line.removeprefix("Example: "))))
            pending = None
    return {dict(pairs)["type"]: pairs for pairs in events}


@pytest.mark.skipif(not SEED.exists(), reason=f"vendor seed page not at {SEED}")
def test_vendor_examples_are_exactly_the_seed_page() -> None:
    text = SEED.read_text(encoding="utf-8")
    from_seed = seed_examples(text)
    assert set(from_seed) == set(EXAMPLES)
    assert sum(len(pairs) for pairs in from_seed.values()) == text.count("Example: ")
    for event_type, pairs in from_seed.items():
        doc = EXAMPLES[event_type]
        flat = [(k, v) for k, v in doc.items() if k != "data"]
        flat += [(f"data.{k}", v) for k, v in doc["data"].items()]
        assert flat == pairs, event_type
        assert list(doc)[-1] == "data"
