"""parse_event's one-pass path gives exactly what the envelope-model path gives."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.test_schemas_properties import (
    damaged_events,
    envelope_like,
    json_values,
    valid_events,
)
from wxcc_stream.schemas.cloudevent import SchemaError, _parse_enveloped, _parse_plain, parse_event
from wxcc_stream.schemas.event import Event


def reference(raw: Any, received_at: int | None) -> Event | tuple[str, str]:
    """The envelope-model path's event, or its error as (field, reason)."""
    try:
        return _parse_enveloped(raw, received_at)
    except SchemaError as err:
        return err.field, err.reason


def plain(raw: Any, received_at: int | None) -> Event | tuple[str, str] | None:
    try:
        return _parse_plain(raw, received_at)
    except SchemaError as err:
        return err.field, err.reason


def public(raw: Any, received_at: int | None) -> Event | tuple[str, str]:
    try:
        return parse_event(raw, received_at=received_at)
    except SchemaError as err:
        return err.field, err.reason


@settings(max_examples=500, deadline=None)
@given(valid_events())
def test_every_valid_event_takes_the_plain_path_with_the_same_result(
    generated: tuple[dict[str, Any], int | None],
) -> None:
    raw, received_at = generated
    original = copy.deepcopy(raw)
    event = _parse_plain(raw, received_at)
    assert event is not None
    assert event == _parse_enveloped(raw, received_at)
    assert event.to_json() == _parse_enveloped(raw, received_at).to_json()
    assert raw == original
    # a copy, as the envelope model keeps: later changes to the input do not leak in
    assert event.data is not raw["data"]


@settings(max_examples=500, deadline=None)
@given(damaged_events() | envelope_like | json_values, st.none() | st.integers(0, 10**13))
def test_the_plain_path_declines_or_agrees(raw: Any, received_at: int | None) -> None:
    expected = reference(raw, received_at)
    got = plain(raw, received_at)
    assert got is None or got == expected
    assert public(raw, received_at) == expected


class Text(str):
    """A str subclass: valid for the envelope model, not a plain JSON value."""

    __slots__ = ()


def test_unusual_but_valid_shapes_take_the_reference_path() -> None:
    raw = {
        "id": Text("e"),
        "specversion": "1.0",
        "type": "agent:login",
        "source": "/com/cisco/wxcc/s",
        "data": {"agentId": "a", "createdTime": 5},
    }
    assert _parse_plain(raw, None) is None
    assert parse_event(raw) == _parse_enveloped(raw, None)
