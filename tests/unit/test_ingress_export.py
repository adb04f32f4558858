"""Export files taken item by item and admitted with the archive's rules (pure)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from wxcc_stream.ingress.export import (
    ExportFormatError,
    ExportItem,
    Topics,
    archive_policy,
    array_items,
    is_array,
    lines_items,
    record_of,
)
from wxcc_stream.ingress.policy import AdmissionPolicy
from wxcc_stream.schemas.models import RECONCILED_ATTRIBUTE

TOPICS = Topics("p.raw", "p.deadletter")
NOW = 1_800_000_000_000
DAY_AGO = NOW - 86_400_000


def _event(ce_id: str = "e-1", **extra: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": ce_id,
        "type": "agent:state_change",
        "source": "/com/cisco/wxcc/sub-1",
        "comciscoorgid": "org-1",
        "datacontenttype": "application/json",
        "data": {"agentId": "agent-7", "createdTime": DAY_AGO, "currentState": "available"},
        **extra,
    }


def _item(event: dict[str, Any], line: int = 1) -> ExportItem:
    return ExportItem(line, orjson.dumps(event))


def _record(item: ExportItem, policy: AdmissionPolicy | None = None) -> Any:
    rules = archive_policy(policy or AdmissionPolicy())
    return record_of(item, file="day.jsonl", policy=rules, topics=TOPICS, now_ms=NOW)


def test_json_lines_are_numbered_and_blank_lines_skipped() -> None:
    lines = [b'{"a":1}\n', b"\n", b"   \r\n", b'  {"b":2}  \n']
    assert list(lines_items(lines)) == [ExportItem(1, b'{"a":1}'), ExportItem(4, b'{"b":2}')]


def test_array_items_carry_the_line_they_start_on() -> None:
    data = b'[\n  {"a": [1, 2]},\n\n  {"b": "x,]"}\n]\n'
    assert array_items(data) == [ExportItem(2, b'{"a": [1, 2]}'), ExportItem(4, b'{"b": "x,]"}')]


@pytest.mark.parametrize("data", [b"[{", b'{"a": 1}', b"nope"])
def test_a_file_that_is_no_array_is_refused_whole(data: bytes) -> None:
    with pytest.raises(ExportFormatError):
        array_items(data)


@pytest.mark.parametrize(("head", "array"), [(b"  \n[", True), (b'{"id"', False), (b"", False)])
def test_the_format_is_told_by_the_first_character(head: bytes, array: bool) -> None:
    assert is_array(head) is array


def test_a_valid_event_becomes_the_raw_record_the_ingress_would_write() -> None:
    event = _event()
    record, refusal = _record(_item(event))
    assert refusal is None
    assert record.topic == "p.raw"
    assert record.key == b"agent-7"
    assert record.value == orjson.dumps(event)  # the bytes as exported
    headers = dict(record.headers)
    assert headers["ce_id"] == b"e-1"
    assert headers["received_at"] == b"%d" % NOW


def test_no_signature_and_no_timestamp_window_for_an_archive() -> None:
    # a v2 event a day old would be refused live (5 minute window); not from an archive
    old_v2 = _event(comciscotimestamp=DAY_AGO)
    live = AdmissionPolicy(secrets={"sub-1": (b"s" * 32,)})
    assert _record(_item(old_v2), live)[1] is None


def test_reconciled_events_of_our_own_archive_are_taken() -> None:
    assert _record(_item(_event(**{RECONCILED_ATTRIBUTE: True})))[1] is None


def test_the_allow_lists_still_apply() -> None:
    policy = AdmissionPolicy(allowed_orgs=frozenset({"org-2"}))
    record, refusal = _record(_item(_event(), line=9), policy)
    assert refusal is not None
    assert refusal.reason.value == "unknown_org"
    assert record.topic == "p.deadletter"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"id": "e-1", "type": ', "invalid_json"),
        (orjson.dumps(_event(type="billing:charge")), "unknown_type"),
        (orjson.dumps({k: v for k, v in _event().items() if k != "data"}), "invalid_event"),
    ],
)
def test_a_bad_item_is_dead_lettered_with_its_reason_file_and_line(
    body: bytes, reason: str
) -> None:
    record, refusal = _record(ExportItem(42, body))
    assert refusal is not None
    assert refusal.reason.value == reason
    assert record.topic == "p.deadletter"
    assert record.value == body
    headers = dict(record.headers)
    assert headers["dl_reason"] == reason.encode()
    assert headers["backfill_file"] == b"day.jsonl"
    assert headers["backfill_line"] == b"42"
