"""Property tests: round trips, and the parser against the envelope JSON Schema."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.unit.json_strategies import json_text
from tests.unit.json_strategies import json_values as json_values_of
from wxcc_stream.schemas.cloudevent import SchemaError, parse_event, parse_event_bytes
from wxcc_stream.schemas.event import EntityKind, Event, TimeSource
from wxcc_stream.schemas.files import cloudevent_schema, event_schema
from wxcc_stream.schemas.models import EVENT_TYPES, MAX_EPOCH_MS, typed_data

ENVELOPE = Draft202012Validator(cloudevent_schema())
EVENT_VALIDATORS = {t: Draft202012Validator(event_schema(t)) for t in EVENT_TYPES}
UNKNOWN_TYPES = ["agent:channel_state_change", "task:failed", "task-message:new", "agentx:ping"]
RESERVED = {
    "id",
    "source",
    "specversion",
    "type",
    "data",
    "datacontenttype",
    "comciscoorgid",
    "comciscocorgid",
    "comciscotimestamp",
    "wxccstreamreconciled",
}
text = json_text(12)
ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
json_values = json_values_of(text_size=12, width=4, leaves=12)
times = st.integers(min_value=0, max_value=MAX_EPOCH_MS)
digit_strings = st.from_regex(r"\A[0-9]{1,18}\Z")


def primary_key(event_type: str) -> tuple[EntityKind, str]:
    """The entity the generator puts on an event of `event_type`."""
    if event_type.startswith("agent"):
        return EntityKind.AGENT, "agentId"
    return EntityKind.TASK, "taskId"


@st.composite
def valid_events(draw: st.DrawFn) -> tuple[dict[str, Any], int | None]:
    """A valid structured CloudEvent and a receive time; vendor fields schema-conformant."""
    event_type = draw(st.sampled_from(sorted(EVENT_TYPES) + UNKNOWN_TYPES))
    _, id_key = primary_key(event_type)
    data: dict[str, Any] = {id_key: draw(ids)}
    model = EVENT_TYPES.get(event_type)
    known = set(model.vendor_fields()) if model else set()
    for vendor in sorted(known - {id_key, "createdTime"}):
        if draw(st.booleans()):
            value = st.lists(text, max_size=3) if vendor == "connectedChannels" else text
            data[vendor] = draw(st.none() | value)
    created = draw(st.none() | times)
    if created is not None:
        data["createdTime"] = created
    extra_keys = text.filter(lambda k: k not in known | {"agentId", "taskId", "createdTime"})
    data.update(draw(st.dictionaries(extra_keys, json_values, max_size=3)))

    raw: dict[str, Any] = {
        "id": draw(ids),
        "specversion": "1.0",
        "type": event_type,
        "source": "/com/cisco/wxcc/" + draw(ids),
        "data": data,
    }
    if draw(st.booleans()):
        raw["datacontenttype"] = "application/json"
    for attribute in draw(st.sets(st.sampled_from(["comciscoorgid", "comciscocorgid"]))):
        raw[attribute] = draw(st.none() | text)
    stamp = draw(st.none() | times | digit_strings)
    if stamp is not None:
        raw["comciscotimestamp"] = stamp
    reconciled = draw(st.none() | st.booleans())
    if reconciled is not None:
        raw["wxccstreamreconciled"] = reconciled
    extension_keys = st.from_regex(r"\A[a-z][a-z0-9]{0,11}\Z").filter(lambda k: k not in RESERVED)
    raw.update(draw(st.dictionaries(extension_keys, json_values, max_size=3)))
    # Some time must exist: createdTime, comciscotimestamp or the receive time.
    no_time = created is None and stamp is None
    received_at = draw(times if no_time else st.none() | times)
    return raw, received_at


@settings(max_examples=300, deadline=None)
@given(valid_events())
def test_valid_events_parse_and_round_trip(generated: tuple[dict[str, Any], int | None]) -> None:
    raw, received_at = generated
    original = copy.deepcopy(raw)
    event = parse_event(raw, received_at=received_at)
    assert raw == original, "parsing must not change its input"

    back = Event.from_json(event.to_json())
    assert back == event
    assert back.to_json() == event.to_json()

    kind, id_key = primary_key(raw["type"])
    assert (event.entity_kind, event.entity_id) == (kind, raw["data"][id_key])
    assert event.data == raw["data"]
    orgs = [raw.get("comciscoorgid"), raw.get("comciscocorgid")]
    assert event.org_id == next((org for org in orgs if org), None)
    assert event.reconciled is (raw.get("wxccstreamreconciled") is True)
    if "createdTime" in raw["data"]:
        assert (event.created_time, event.time_source) == (
            raw["data"]["createdTime"],
            TimeSource.CREATED_TIME,
        )
    elif "comciscotimestamp" in raw:
        assert event.created_time == int(raw["comciscotimestamp"])
        assert event.time_source is TimeSource.COMCISCOTIMESTAMP
    else:
        assert (event.created_time, event.time_source) == (received_at, TimeSource.RECEIVED_AT)
    for key, value in raw.items():
        if key not in RESERVED:
            assert event.extensions[key] == value

    assert ENVELOPE.is_valid(raw)
    if raw["type"] in EVENT_TYPES:
        EVENT_VALIDATORS[raw["type"]].validate(raw)
        assert typed_data(raw["type"], event.data) is not None


envelope_like = st.dictionaries(st.sampled_from(sorted(RESERVED)) | text, json_values, max_size=8)


def outcome(body: Any, *, raw_bytes: bool = False) -> Event | SchemaError:
    """The parsed event, or the SchemaError it raised; any other exception propagates."""
    try:
        if raw_bytes:
            return parse_event_bytes(body, received_at=0)
        return parse_event(body, received_at=1)
    except SchemaError as err:
        return err


@settings(max_examples=300, deadline=None)
@given(json_values | envelope_like)
def test_random_json_only_ever_raises_schema_error(value: Any) -> None:
    result = outcome(value)
    assert isinstance(result, Event | SchemaError)
    if isinstance(result, SchemaError):
        assert result.field
        assert str(result).startswith(f"{result.field}: ")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_only_ever_raise_schema_error(body: bytes) -> None:
    result = outcome(body, raw_bytes=True)
    assert isinstance(result, Event | SchemaError)
    if isinstance(result, SchemaError):
        assert result.field


PATHS = [
    *sorted(RESERVED),
    "data.agentId",
    "data.taskId",
    "data.createdTime",
    "data.currentState",
    "data.outboundType",
]


@st.composite
def damaged_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with one attribute or data field removed or replaced by any JSON."""
    raw, _ = draw(valid_events())
    path = draw(st.sampled_from(PATHS))
    target = raw["data"] if path.startswith("data.") else raw
    key = path.removeprefix("data.")
    if draw(st.booleans()):
        target.pop(key, None)
    else:
        target[key] = draw(json_values | times | digit_strings | st.just("1.0"))
    return raw


@settings(max_examples=500, deadline=None)
@given(damaged_events())
def test_parser_agrees_with_the_envelope_schema(raw: dict[str, Any]) -> None:
    # With a receive time there is always a time, so the hand-written checks and the
    # JSON Schema must accept and reject exactly the same events.
    result = outcome(raw)
    if isinstance(result, SchemaError):
        assert not ENVELOPE.is_valid(raw), f"parser rejected ({result}) what the schema accepts"
    else:
        assert ENVELOPE.is_valid(raw), "parser accepted what the schema rejects"
        assert Event.from_json(result.to_json()) == result
