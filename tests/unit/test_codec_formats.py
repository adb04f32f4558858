"""The table value's formats: format 3 written, formats 1 and 2 (older changelogs) still read."""

from __future__ import annotations

import orjson
import pytest

from tests.unit.event_builders import AGENT, TASK, agent_event, task_event
from tests.unit.log_store import stored
from wxcc_stream.processors.core.log import EntityLog, new_log, projection_bytes
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.step import accept, drain, release_due
from wxcc_stream.processors.storage.log_value import FORMAT, LogDecodeError, decode_log, encode_log
from wxcc_stream.projections.registry import KINDS
from wxcc_stream.schemas.event import EntityKind

POLICY = Policy(grace_ms=100, flush_timeout_ms=1_000, horizon_ms=1_000, prune_at_checkpoints=False)
SESSION = [
    agent_event("agent:login", 0, "e0", currentState="idle", createdTime=0),
    agent_event("agent:state_change", 500, "e1", currentState="available"),
    agent_event("agent:state_change", 1_300, "e2", currentState="ringing", taskId="t1"),
    agent_event("agent:state_change", 1_350, "e3", currentState="connected", taskId="t1"),
]
NEXT = agent_event("agent:state_change", 1_400, "e4", currentState="wrapup", taskId="t1")

# `SESSION` accepted at now_ms 10, 11, 12, 13, as the format-1 encoder wrote it: a base
# (e0 pruned), one folded event, two buffered, a floor
V1_AGENT_LOG = (
    b'{"format":1,"kind":"agent","entityId":"agent-1","state":{"agentId":"agent-1","orgId"'
    b':"org-1","teamId":null,"loggedIn":true,"state":"available","stateSince":500,"idleCod'
    b'eId":null,"wrapUpAuxCodeId":null,"taskIds":[],"connectedChannels":null,"destination"'
    b':null,"profileType":null,"sessionStart":0,"timeInState":{"idle":500},"lastEventTime"'
    b':500,"lastEventId":"e1","revision":2,"schema_version":1},"base":{"agentId":"agent-1"'
    b',"orgId":"org-1","teamId":null,"loggedIn":true,"state":"idle","stateSince":0,"idleCo'
    b'deId":null,"wrapUpAuxCodeId":null,"taskIds":[],"connectedChannels":null,"destination'
    b'":null,"profileType":null,"sessionStart":0,"timeInState":{},"lastEventTime":0,"lastE'
    b'ventId":"e0","revision":1,"schema_version":1},"history":[[11,{"createdTime":500,"dat'
    b'a":{"agentId":"agent-1","currentState":"available"},"entityId":"agent-1","entityKind'
    b'":"agent","extensions":{},"id":"e1","orgId":"org-1","receivedAt":null,"reconciled":f'
    b'alse,"source":"/com/cisco/wxcc/sub-1","timeSource":"createdTime","type":"agent:state'
    b'_change"}]],"buffer":[[12,{"createdTime":1300,"data":{"agentId":"agent-1","currentSt'
    b'ate":"ringing","taskId":"t1"},"entityId":"agent-1","entityKind":"agent","extensions"'
    b':{},"id":"e2","orgId":"org-1","receivedAt":null,"reconciled":false,"source":"/com/ci'
    b'sco/wxcc/sub-1","timeSource":"createdTime","type":"agent:state_change"}],[13,{"creat'
    b'edTime":1350,"data":{"agentId":"agent-1","currentState":"connected","taskId":"t1"},"'
    b'entityId":"agent-1","entityKind":"agent","extensions":{},"id":"e3","orgId":"org-1","'
    b'receivedAt":null,"reconciled":false,"source":"/com/cisco/wxcc/sub-1","timeSource":"c'
    b'reatedTime","type":"agent:state_change"}]],"watermark":1350,"floor":350,"lastArrival'
    b'Ms":13}'
)


def session_log() -> EntityLog:
    log = new_log(EntityKind.AGENT, AGENT)
    for i, event in enumerate(SESSION):
        log, _ = accept(log, event, now_ms=10 + i, policy=POLICY)
    return log


def encode_v1(log: EntityLog) -> bytes:
    """The format-1 encoder, written out again: held events as [arrivedMs, to_json()]."""
    spec = KINDS[log.kind]
    return orjson.dumps(
        {
            "format": 1,
            "kind": log.kind.value,
            "entityId": log.entity_id,
            "state": spec.to_dict(log.state),
            "base": spec.to_dict(log.base),
            "history": [[h.arrived_ms, orjson.Fragment(h.event.to_json())] for h in log.history],
            "buffer": [[h.arrived_ms, orjson.Fragment(h.event.to_json())] for h in log.buffer],
            "watermark": log.watermark,
            "floor": log.floor,
            "lastArrivalMs": log.last_arrival_ms,
        }
    )


def test_a_format_1_value_is_read_and_carries_on_like_the_log_it_was() -> None:
    log = session_log()
    assert (len(log.history), len(log.buffer), log.floor) == (1, 2, 350)
    assert encode_v1(log) == V1_AGENT_LOG
    old = decode_log(V1_AGENT_LOG)
    assert old == log
    assert old.index == log.index
    assert [h.event for h in old.buffer] == SESSION[2:]
    # written again in the current format, with the same content
    again = encode_log(old)
    assert orjson.loads(again)["format"] == FORMAT == 3
    assert decode_log(again) == log
    assert accept(old, NEXT, now_ms=20, policy=POLICY) == accept(
        log, NEXT, now_ms=20, policy=POLICY
    )
    assert projection_bytes(drain(old, policy=POLICY)[0]) == projection_bytes(
        drain(log, policy=POLICY)[0]
    )


def encode_v2(log: EntityLog) -> bytes:
    """The format-2 encoder, written out again: the whole history in the one value."""
    doc = orjson.loads(encode_log(log))
    del doc["chunks"], doc["nextChunk"]
    doc["format"] = 2
    return orjson.dumps(doc)


def test_a_format_2_value_is_read_and_carries_on_like_the_log_it_was() -> None:
    log = session_log()
    old = decode_log(encode_v2(log))
    assert old == log
    assert old.index == log.index
    assert accept(old, NEXT, now_ms=20, policy=POLICY) == accept(
        log, NEXT, now_ms=20, policy=POLICY
    )


def test_format_2_is_smaller_than_format_1() -> None:
    log = session_log()
    assert len(encode_log(log)) < 0.8 * len(encode_v1(log))


@pytest.mark.parametrize("case", ["initial base", "pruned base", "compacted"])
def test_the_base_is_written_only_when_it_says_something(case: str) -> None:
    log = new_log(EntityKind.TASK, TASK)
    policy = Policy(
        grace_ms=0, flush_timeout_ms=1_000, horizon_ms=1_000, prune_at_checkpoints=False
    )
    events = [task_event("task:new", 0, "n"), task_event("task:ended", 2_000, "x")]
    log, _ = accept(log, events[0], now_ms=0, policy=policy)
    if case != "initial base":
        log, _ = accept(log, events[1], now_ms=0, policy=policy)  # prunes task:new
    if case == "compacted":
        log, out = release_due(log, now_ms=10**7, policy=policy)
        assert out.compacted
    base = orjson.loads(encode_log(log)).get("base", "absent")
    if case == "initial base":
        assert base is None
    elif case == "pruned base":
        assert base == KINDS[EntityKind.TASK].to_dict(log.base)
    else:
        assert base == "absent"
    back = stored(log)
    assert back == log
    assert encode_log(back) == encode_log(log)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"format": 3}',
        b'{"format": 4}',
        b'{"format": true}',
        b'{"format": 2, "kind": "agent"}',
        V1_AGENT_LOG.replace(b'"id":"e1",', b""),
        V1_AGENT_LOG.replace(b'"format":1', b'"format":2'),  # format-1 rows are not rows
    ],
)
def test_decoding_refuses_values_of_no_known_format(raw: bytes) -> None:
    with pytest.raises(LogDecodeError):
        decode_log(raw)


def test_a_format_2_row_of_the_wrong_shape_is_refused() -> None:
    doc = orjson.loads(encode_log(session_log()))
    assert decode_log(orjson.dumps({**doc, "history": [], "buffer": [], "defaults": None}))
    for broken in (
        {"history": [[1, 2]]},
        {"history": [[0, "1", "t", "i", "s", None, None, {}]]},
        {"history": [[0, 1, "t", "i", "s", None, None, []]]},
        {"defaults": None},  # rows that leave out the defaults of no log
        {"defaults": [1, None]},
    ):
        with pytest.raises(LogDecodeError):
            decode_log(orjson.dumps({**doc, **broken}))
