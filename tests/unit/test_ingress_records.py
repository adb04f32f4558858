"""Raw and dead-letter records, problem documents, JSON logs and metrics labels."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wxcc_stream.ingress.logs import JsonFormatter, configure_logging
from wxcc_stream.ingress.metrics import IngressMetrics, type_label
from wxcc_stream.ingress.problems import ItemError, Reason, Rejection, problem_body, status_of
from wxcc_stream.ingress.records import deadletter_record, raw_record
from wxcc_stream.schemas.cloudevent import parse_event_bytes
from wxcc_stream.schemas.files import vendor_examples
from wxcc_stream.schemas.raw_record import rfc3339_ms


def test_raw_record_is_keyed_by_entity_with_cloudevents_kafka_headers() -> None:
    body = vendor_examples()["agent:login"]
    event = parse_event_bytes(body, received_at=42)
    record = raw_record("p.raw", event, body, received_at=42)
    assert record.topic == "p.raw"
    assert record.key == b"8e18afd-db79-449b-b4f5-ae4f1d49f45e"
    assert record.value is body
    headers = dict(record.headers)
    assert headers["ce_id"] == event.ce_id.encode()
    assert headers["ce_type"] == b"agent:login"
    assert headers["ce_source"] == b"/com/cisco/wxcc/AXXbfkWZ331_GLMMoS3N"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_time"] == (rfc3339_ms(event.created_time) or "").encode()
    assert headers["received_at"] == b"42"
    assert headers["ce_comciscoorgid"] == b"9dcb8657-ffad-45a1-9d8c-2f66e3b64f08"


def test_task_and_capture_events_are_keyed_by_task_id() -> None:
    for kind in ("task:ended", "capture:available"):
        body = vendor_examples()[kind]
        event = parse_event_bytes(body, received_at=1)
        assert raw_record("t", event, body, received_at=1).key == event.data["taskId"].encode()


def test_ce_time_is_left_out_when_rfc3339_cannot_write_it() -> None:
    doc = orjson.loads(vendor_examples()["agent:login"])
    doc["data"]["createdTime"] = 10**17
    body = orjson.dumps(doc)
    record = raw_record("t", parse_event_bytes(body, received_at=1), body, received_at=1)
    assert "ce_time" not in dict(record.headers)


def test_ce_time_prefers_the_time_attribute() -> None:
    body = orjson.dumps(
        {
            **orjson.loads(vendor_examples()["agent:login"]),
            "time": "2024-01-01T00:00:00Z",
        }
    )
    record = raw_record("t", parse_event_bytes(body, received_at=1), body, received_at=1)
    assert dict(record.headers)["ce_time"] == b"2024-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_709_539_200_123, "2024-03-04T08:00:00.123Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (253_402_300_800_000, None),
    ],
)
def test_rfc3339_ms(ms: int, text: str | None) -> None:
    assert rfc3339_ms(ms) == text


@given(st.integers(0, 253_402_300_799_999), st.integers(0, 999))
def test_rfc3339_ms_agrees_with_datetime_within_a_cached_second(ms: int, other: int) -> None:
    # the seconds part is cached: a second millisecond of the same second must not reuse
    # more than the seconds
    for value in (ms, ms - ms % 1000 + other):
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
        expected = moment.isoformat(timespec="milliseconds")
        assert rfc3339_ms(value) == expected.replace("+00:00", "Z")


def test_deadletter_keeps_body_reason_headers_but_never_credentials() -> None:
    rejection = Rejection(Reason.BAD_SIGNATURE, "nope", "x", "id-1", "agent:login")
    request_headers = [
        ("Content-Type", "application/json"),
        ("X-WebexCC-Signature", "abcdef"),
        ("x-webexcc-signature", "abcdef"),
        ("Authorization", "Bearer t"),
        ("Cookie", "c=1"),
        ("User-Agent", "wxcc"),
        ("X-Odd", "\udcff"),
    ]
    record = deadletter_record(
        "p.dl", b"body", rejection, request_headers, received_at=7, path="/hook"
    )
    assert (record.topic, record.key, record.value) == ("p.dl", None, b"body")
    headers = dict(record.headers)
    assert headers["dl_reason"] == b"bad_signature"
    assert headers["dl_status"] == b"403"
    assert headers["dl_detail"] == b"nope"
    assert headers["dl_field"] == b"x"
    assert headers["ce_id"] == b"id-1"
    assert headers["http_content-type"] == b"application/json"
    assert headers["http_user-agent"] == b"wxcc"
    assert headers["http_x-odd"] == b"\xff"
    assert headers["http_path"] == b"/hook"
    flat = repr(record.headers).lower()
    assert not [name for name in headers if "signature" in name]
    assert "abcdef" not in flat
    assert "bearer" not in flat
    assert "c=1" not in flat


def test_problem_body_is_rfc9457_shaped() -> None:
    rejection = Rejection(
        Reason.INVALID_EVENT, "bad", "data.agentId", errors=(ItemError(2, "type", "odd"),)
    )
    doc = orjson.loads(problem_body(rejection, instance="/h"))
    assert doc == {
        "type": "urn:wxcc-stream:problem:invalid_event",
        "title": "Not a valid WxCC CloudEvent",
        "status": 400,
        "detail": "bad",
        "reason": "invalid_event",
        "instance": "/h",
        "field": "data.agentId",
        "errors": [{"index": 2, "field": "type", "detail": "odd"}],
    }
    assert {status_of(r) for r in Reason} <= {400, 403, 413, 415, 503}


def test_json_logs_carry_extras_and_redact_secrets() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", stream)
    try:
        logging.getLogger("wxcc_stream.ingress.test").info(
            "refused", extra={"event_id": "e1", "signature": "abc", "secret": "s"}
        )
    finally:
        configure_logging("WARNING")
    line = orjson.loads(stream.getvalue().splitlines()[-1])
    assert line["msg"] == "refused"
    assert line["event_id"] == "e1"
    assert line["signature"] == "[redacted]"
    assert line["secret"] == "[redacted]"
    assert "abc" not in stream.getvalue()
    assert isinstance(JsonFormatter().format(logging.makeLogRecord({"msg": "x"})), str)


def test_metrics_use_their_own_registry_and_bounded_labels() -> None:
    first, second = IngressMetrics(), IngressMetrics()
    first.count_request(202, type_label("agent:login"))
    first.count_request(202, type_label("attacker:" + "x" * 50))
    first.observe_publish(0.003)
    first.observe_publish(30.0)
    first.set_spool_depth(4)
    first.count_deadlettered("bad_signature")
    assert (
        first.registry.get_sample_value(
            "wxcc_ingress_requests_total", {"status": "202", "type": "agent:login"}
        )
        == 1.0
    )
    assert (
        first.registry.get_sample_value(
            "wxcc_ingress_requests_total", {"status": "202", "type": "other"}
        )
        == 1.0
    )
    assert (
        second.registry.get_sample_value(
            "wxcc_ingress_requests_total", {"status": "202", "type": "agent:login"}
        )
        is None
    )
    assert type_label(None) == "unknown"
    sample = first.registry.get_sample_value
    assert sample("wxcc_ingress_publish_seconds_bucket", {"le": "0.0025"}) == 0.0
    assert sample("wxcc_ingress_publish_seconds_bucket", {"le": "0.005"}) == 1.0
    assert sample("wxcc_ingress_publish_seconds_bucket", {"le": "+Inf"}) == 2.0
    assert sample("wxcc_ingress_publish_seconds_count") == 2.0
    assert sample("wxcc_ingress_spool_depth") == 4.0
    assert sample("wxcc_ingress_deadlettered_total", {"reason": "bad_signature"}) == 1.0
