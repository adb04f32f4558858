"""Held events as compact rows: exact round trips, canonical bytes, and what a log costs."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from tests.unit.event_builders import AGENT, agent_event, leg_event, task_event
from tests.unit.json_strategies import json_text
from tests.unit.json_strategies import json_values as json_values_of
from wxcc_stream.processors.core.log import new_log
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.step import accept
from wxcc_stream.processors.storage.rows import Defaults, RowError, decode_row, encode_row, exact
from wxcc_stream.schemas.event import EntityKind, Event, TimeSource

text = json_text(10)
json_values = json_values_of(text_size=10, width=3, leaves=8)
TYPES = [
    "agent:login",
    "agent:state_change",
    "task:new",
    "task:ended",
    "capture:available",
    "task:failed",
    "agentx:ping",
]


@st.composite
def events(draw: st.DrawFn) -> Event:
    """Events as ingress makes them, and envelopes it never makes (the row keeps them too)."""
    type_ = draw(st.sampled_from(TYPES))
    t = draw(st.integers(0, 2**53))
    entity_id = draw(st.text(min_size=1, max_size=8))
    data: dict[str, Any] = draw(st.dictionaries(text, json_values, max_size=4))
    implied = "agentId" if type_.startswith("agent:") else "taskId"
    if draw(st.booleans()):
        data[implied] = entity_id
    created = draw(st.sampled_from(["same", "absent", "other", "float", "null"]))
    if created == "same":
        data["createdTime"] = t
    elif created == "absent":
        data.pop("createdTime", None)
    elif created == "other":
        data["createdTime"] = draw(st.integers(0, 2**53) | text)
    elif created == "float":
        data["createdTime"] = float(t)
    else:
        data["createdTime"] = None
    kind = draw(st.sampled_from(EntityKind))
    extensions = draw(
        st.sampled_from([{}, {"datacontenttype": "application/json"}])
        | st.dictionaries(text, json_values, max_size=2)
    )
    return Event(
        entity_kind=kind,
        entity_id=entity_id,
        type=type_,
        created_time=t,
        ce_id=draw(st.text(min_size=1, max_size=8)),
        ce_source=draw(st.text(min_size=1, max_size=8)),
        org_id=draw(st.none() | text),
        data=data,
        time_source=draw(st.sampled_from(TimeSource)),
        received_at=draw(st.none() | st.integers(0, 2**53)),
        reconciled=draw(st.booleans()),
        extensions=extensions,
    )


@st.composite
def defaults_for(draw: st.DrawFn, event: Event) -> Defaults:
    """The log's defaults: the event's own source and org, or others."""
    source = draw(st.sampled_from([event.ce_source, "/other"]))
    return source, draw(st.sampled_from([event.org_id, None, "org-other"]))


@settings(max_examples=400, deadline=None)
@given(st.data(), events(), st.integers(0, 2**53))
def test_a_row_gives_back_the_event_and_the_same_bytes(
    data: st.DataObject, event: Event, arrived: int
) -> None:
    defaults = data.draw(defaults_for(event))
    row = encode_row(event, arrived, defaults)
    back = decode_row(row, defaults)
    assert back == event
    assert back.to_json() == event.to_json()
    assert back.to_dict() == event.to_dict()
    parsed = orjson.loads(row)
    assert parsed[0] == arrived
    # canonical: what a decoded table value dumps again is the row itself
    assert orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS) == row
    assert encode_row(back, arrived, defaults) == row


@pytest.mark.parametrize(
    "event",
    [
        agent_event("agent:state_change", 5, "a", currentState="idle", createdTime=5),
        task_event("task:new", 5, "t", createdTime=5, queueId=None),
        leg_event("wrapup", 5, "l", createdTime=5),
    ],
)
def test_a_row_leaves_out_what_it_can_restore(event: Event) -> None:
    usual = replace(event, extensions={"datacontenttype": "application/json"})
    defaults = (event.ce_source, event.org_id)
    row = orjson.loads(encode_row(usual, 1, defaults))
    assert len(row) == 8  # no envelope extras
    assert row[4:6] == [0, 0]  # the log's source and org
    assert "createdTime" not in row[7]
    assert decode_row(encode_row(usual, 1, defaults), defaults) == usual


def test_an_event_of_another_entity_keeps_its_entity() -> None:
    leg = leg_event("connected", 5, "l")  # folded in the task stream, an agent's event
    defaults = (leg.ce_source, leg.org_id)
    assert decode_row(encode_row(leg, 0, defaults), defaults).entity_id == AGENT
    moved = replace(leg, entity_id="x")
    assert orjson.loads(encode_row(moved, 0, defaults))[8]["entityId"] == "x"
    assert decode_row(encode_row(moved, 0, defaults), defaults) == moved


@pytest.mark.parametrize(
    "row", [b"{}", b"[1, 2]", b'[0, 1, "agent:login", "i", "s", null, null, {}]', b"[0]"]
)
def test_a_broken_row_is_refused(row: bytes) -> None:
    with pytest.raises(RowError):
        decode_row(row, ("s", None))


def test_exact_gives_a_buffer_of_its_own_size() -> None:
    data = orjson.dumps({"a": "x" * 300})
    gc.collect()
    tracemalloc.start()
    try:
        kept = [exact(orjson.dumps({"a": "x" * 300, "i": i})) for i in range(100)]
        traced, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept[0] == data[:-1] + b',"i":0}'
    # orjson's own buffers would be 4 KiB and up each
    assert traced < 100 * (len(data) + 200)


def test_a_long_agent_log_stays_small() -> None:
    """About 100 folded events: the history costs a row, a key and an index entry each."""
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=10**9)
    states = ["available", "ringing", "connected", "wrapup", "wrapup-done"]
    incoming = [
        agent_event(
            "agent:state_change",
            1_700_000_000_000 + i * 60_000,
            f"{i:08d}-16bd-40e4-8e04-cd2ae00c5857",
            source="/com/cisco/wxcc/AXXbfkWZ331_GLMMoS3N",
            org="9dcb8657-ffad-45a1-9d8c-2f66e3b64f08",
            currentState=states[i % len(states)],
            taskId=f"task-{i // len(states)}",
            teamId="003f9fcb-7805-4c42-a722-2a46d546f29b",
            createdTime=1_700_000_000_000 + i * 60_000,
        )
        for i in range(100)
    ]
    gc.collect()
    tracemalloc.start()
    try:
        log = new_log(EntityKind.AGENT, AGENT)
        for i, event in enumerate(incoming):
            log, _ = accept(log, event, now_ms=1_700_000_000_000 + i, policy=policy)
        gc.collect()
        traced, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(log.history) == 100
    # about 600 B each today; a decoded event (~1 KiB) or an orjson buffer (4 KiB) per
    # event, or a projection state cached per event, would each break this
    assert traced < 100 * 1_000, traced
