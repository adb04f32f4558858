"""Typed models of the event data objects and of the CloudEvents envelope."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from wxcc_stream.schemas.cloudevent import SchemaError
from wxcc_stream.schemas.files import vendor_examples
from wxcc_stream.schemas.models import (
    AGENT_TYPES,
    CAPTURE_TYPES,
    EVENT_TYPES,
    MAX_EPOCH_MS,
    TASK_TYPES,
    AgentData,
    AgentLogin,
    AgentStateChange,
    CloudEventEnvelope,
    EventData,
    TaskEnded,
    epoch_ms,
    typed_data,
)

EXAMPLES = {t: orjson.loads(raw) for t, raw in vendor_examples().items()}


def attribute_of(model: type[EventData], vendor: str) -> str:
    """The attribute name that holds the vendor field `vendor` in `model`."""
    for f in dataclasses.fields(model):
        if f.metadata.get("vendor") == vendor:
            return f.name
    raise AssertionError(f"{model.__name__} does not model {vendor}")


def test_registries_partition_the_fifteen_types() -> None:
    assert len(EVENT_TYPES) == 15
    assert set(EVENT_TYPES) == AGENT_TYPES | TASK_TYPES | CAPTURE_TYPES
    assert not AGENT_TYPES & TASK_TYPES
    assert not AGENT_TYPES & CAPTURE_TYPES
    assert not TASK_TYPES & CAPTURE_TYPES
    assert {"agent:login", "agent:logout", "agent:state_change"} == AGENT_TYPES
    assert {"capture:available"} == CAPTURE_TYPES
    assert len({*EVENT_TYPES.values()}) == 15, "one model class per event type"


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_model_reads_every_vendor_field_of_the_example(event_type: str) -> None:
    model = EVENT_TYPES[event_type]
    data = EXAMPLES[event_type]["data"]
    typed = model.from_data(data)
    assert type(typed) is model
    assert typed.extra == {}, "every field the vendor lists is modelled"
    for vendor, value in data.items():
        got = getattr(typed, attribute_of(model, vendor))
        assert got == (tuple(value) if isinstance(value, list) else value)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_model_tolerates_missing_optional_fields_and_keeps_extras(event_type: str) -> None:
    model = EVENT_TYPES[event_type]
    id_key = "agentId" if event_type in AGENT_TYPES else "taskId"
    typed = model.from_data({id_key: "e-1", "brandNew": {"x": 1}})
    assert getattr(typed, attribute_of(model, id_key)) == "e-1"
    assert typed.extra == {"brandNew": {"x": 1}}
    others = [v for v in model.vendor_fields() if v != id_key]
    assert others, "each model has optional fields"
    assert all(getattr(typed, attribute_of(model, v)) is None for v in others)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_model_requires_the_entity_id(event_type: str) -> None:
    id_key = "agentId" if event_type in AGENT_TYPES else "taskId"
    with pytest.raises(SchemaError) as caught:
        EVENT_TYPES[event_type].from_data({"createdTime": 1})
    assert caught.value.field == f"data.{id_key}"


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (TaskEnded, {"taskId": "t", "origin": 5}, "data.origin"),
        (TaskEnded, {"taskId": "t", "reason": ["x"]}, "data.reason"),
        (TaskEnded, {"taskId": "t", "createdTime": "1"}, "data.createdTime"),
        (AgentStateChange, {"agentId": "a", "connectedChannels": [1]}, "data.connectedChannels"),
        (AgentStateChange, {"agentId": "a", "connectedChannels": "c1"}, "data.connectedChannels"),
        (AgentLogin, {"agentId": "a", "createdTime": None}, "data.createdTime"),
    ],
)
def test_model_rejects_a_wrongly_typed_field(
    model: type[EventData], data: dict[str, Any], field: str
) -> None:
    with pytest.raises(SchemaError) as caught:
        model.from_data(data)
    assert caught.value.field == field


def test_outbound_type_null_is_fine() -> None:
    typed = TaskEnded.from_data(EXAMPLES["task:ended"]["data"])
    assert typed.outbound_type is None
    assert typed.terminating_party == "Customer|Agent"


@pytest.mark.parametrize("state", ["Idle", "idle", "IDLE"])
def test_agent_state_is_lower_cased_but_kept(state: str) -> None:
    typed = AgentLogin.from_data({"agentId": "a", "currentState": state})
    assert typed.current_state == state
    assert typed.state == "idle"
    assert AgentLogin.from_data({"agentId": "a"}).state is None


def test_models_are_frozen_with_slots() -> None:
    typed = AgentLogin.from_data(EXAMPLES["agent:login"]["data"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        typed.agent_id = "other"  # type: ignore[misc]
    assert not hasattr(typed, "__dict__")
    assert isinstance(typed, AgentData)


def test_typed_data_dispatches_on_type() -> None:
    data = EXAMPLES["agent:state_change"]["data"]
    typed = typed_data("agent:state_change", data)
    assert isinstance(typed, AgentStateChange)
    assert typed.connected_channels == tuple(data["connectedChannels"])
    assert typed_data("task:failed", {"taskId": "t"}) is None


def test_envelope_from_vendor_example() -> None:
    raw = dict(EXAMPLES["agent:login"])
    raw["comciscotimestamp"] = "1700000000000"
    raw["wxccstreamreconciled"] = True
    raw["traceparent"] = "00-abc"
    envelope = CloudEventEnvelope.from_mapping(raw)
    assert (envelope.id, envelope.source, envelope.type) == (raw["id"], raw["source"], raw["type"])
    assert envelope.specversion == "1.0"
    assert envelope.org_id == raw["comciscocorgid"]
    assert envelope.timestamp == 1_700_000_000_000
    assert envelope.reconciled is True
    assert envelope.data == raw["data"]
    assert envelope.extensions == {
        "datacontenttype": "application/json",
        "comciscotimestamp": "1700000000000",
        "traceparent": "00-abc",
    }


@pytest.mark.parametrize(
    ("value", "allow_string", "expected"),
    [
        (0, False, 0),
        (MAX_EPOCH_MS, False, MAX_EPOCH_MS),
        (12.0, False, 12),
        ("0012", True, 12),
        ("9" * 18, True, int("9" * 18)),
    ],
)
def test_epoch_ms_accepts(value: Any, allow_string: bool, expected: int) -> None:
    assert epoch_ms(value, "t", allow_string=allow_string) == expected


@pytest.mark.parametrize(
    ("value", "allow_string"),
    [
        (True, False),
        (-1, False),
        (MAX_EPOCH_MS + 1, False),
        (0.5, False),
        (float("inf"), False),
        (float("nan"), False),
        ("12", False),
        ("", True),
        ("1" * 19, True),
        ("1" * 5000, True),
        ("12\n", True),
        (" 12", True),
        ("-12", True),
        ("١٢", True),
        (None, True),
        ([1], True),
    ],
)
def test_epoch_ms_rejects(value: Any, allow_string: bool) -> None:
    with pytest.raises(SchemaError) as caught:
        epoch_ms(value, "where", allow_string=allow_string)
    assert caught.value.field == "where"
