"""The pure admission decision: modes, signatures, allow-lists, schema, batches."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from wxcc_stream.ingress.admission import Accepted, Mode, admit, media_type, subscription_of
from wxcc_stream.ingress.policy import AdmissionPolicy
from wxcc_stream.ingress.problems import Reason, Rejection, problem_document
from wxcc_stream.schemas.cloudevent import parse_event_bytes
from wxcc_stream.schemas.files import vendor_examples
from wxcc_stream.schemas.signing import SignatureCheck, parse_secrets, sign, verify

NOW = 1_700_000_000_000
SUB = "AXXbfkWZ331_GLMMoS3N"
EXAMPLE_SECRETS = {SUB: "s1", "AXXbFkWZ331_GLMMoS3N": "s2", "{subscriptionId}": "s3"}
SECRETS = ",".join(f"{k}={v}" for k, v in EXAMPLE_SECRETS.items()) + "|rotated-s3"
POLICY = AdmissionPolicy(secrets=parse_secrets(SECRETS))
EXAMPLES = vendor_examples()


def headers(body: bytes, secret: str | None, **extra: str) -> CIMultiDict[str]:
    h: CIMultiDict[str] = CIMultiDict({"Content-Type": "application/json"})
    if secret is not None:
        h["X-WebexCC-Signature"] = sign(body, secret)
    for name, value in extra.items():
        h[name.replace("_", "-")] = value
    return h


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "e-1",
        "specversion": "1.0",
        "type": "agent:login",
        "source": f"/com/cisco/wxcc/{SUB}",
        "comciscoorgid": "org-1",
        "datacontenttype": "application/json",
        "data": {"agentId": "a-1", "createdTime": NOW - 1000, "currentState": "idle"},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def body_of(doc: Any) -> bytes:
    return orjson.dumps(doc)


def signed_admit(body: bytes, policy: AdmissionPolicy = POLICY, **extra: str) -> Any:
    return admit(body, headers(body, "s1", **extra), policy, now_ms=NOW)


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_every_vendor_example_is_accepted_as_received(event_type: str) -> None:
    body = EXAMPLES[event_type]
    secret = EXAMPLE_SECRETS[subscription_of(orjson.loads(body)["source"])]
    decision = admit(body, headers(body, secret), POLICY, now_ms=NOW)
    assert isinstance(decision, Accepted), decision
    assert decision.mode is Mode.STRUCTURED
    (admitted,) = decision.events
    assert admitted.value is body
    assert admitted.event == parse_event_bytes(body, received_at=NOW)


def test_a_rotated_secret_and_the_old_one_are_both_accepted() -> None:
    body = EXAMPLES["task:new"]
    for secret in ("s3", "rotated-s3"):
        assert isinstance(admit(body, headers(body, secret), POLICY, now_ms=NOW), Accepted)
    assert admit(body, headers(body, "s1"), POLICY, now_ms=NOW) == Rejection(
        Reason.BAD_SIGNATURE,
        "X-WebexCC-Signature does not match the body",
        None,
        "49670b0ec-1fd2-4863-8a9f-68224628d52d",
        "task:new",
    )


V2 = str(NOW - 200)


@pytest.mark.parametrize(
    ("doc", "extra", "secret", "reason", "field"),
    [
        (event(), {}, None, Reason.MISSING_SIGNATURE, None),
        (event(), {}, "wrong", Reason.BAD_SIGNATURE, None),
        (event(source="/com/cisco/wxcc/other"), {}, "s1", Reason.UNKNOWN_SUBSCRIPTION, None),
        (event(source=None), {}, "s1", Reason.INVALID_EVENT, "source"),
        (event(source=12), {}, "s1", Reason.INVALID_EVENT, "source"),
        (event(type="weird"), {}, "s1", Reason.UNKNOWN_TYPE, "type"),
        (event(type="billing:paid"), {}, "s1", Reason.UNKNOWN_TYPE, "type"),
        (event(data=None), {}, "s1", Reason.INVALID_EVENT, "data"),
        (event(data=[1]), {}, "s1", Reason.INVALID_EVENT, "data"),
        (event(data={"agentId": 7}), {}, "s1", Reason.INVALID_EVENT, "data.agentId"),
        (
            event(data={"agentId": "a", "createdTime": "soon"}),
            {},
            "s1",
            Reason.INVALID_EVENT,
            "data.createdTime",
        ),
        (event(specversion="0.3"), {}, "s1", Reason.INVALID_EVENT, "specversion"),
        (event(comciscoorgid=5), {}, "s1", Reason.INVALID_EVENT, "comciscoorgid"),
        ([event()], {}, "s1", Reason.INVALID_EVENT, "body"),
        (
            event(comciscotimestamp=int(V2)),
            {"X_WebExCC_Timestamp": str(int(V2) + 1)},
            "s1",
            Reason.TIMESTAMP_MISMATCH,
            "comciscotimestamp",
        ),
        (event(comciscotimestamp=V2), {}, "s1", Reason.TIMESTAMP_MISMATCH, "comciscotimestamp"),
        (
            event(),
            {"X_WebExCC_Timestamp": V2},
            "s1",
            Reason.TIMESTAMP_MISMATCH,
            "comciscotimestamp",
        ),
        (
            event(comciscotimestamp=NOW - 301_000),
            {"X_WebExCC_Timestamp": str(NOW - 301_000)},
            "s1",
            Reason.TIMESTAMP_OUT_OF_RANGE,
            "comciscotimestamp",
        ),
    ],
)
def test_refusals(
    doc: Any, extra: dict[str, str], secret: str | None, reason: Reason, field: str | None
) -> None:
    body = body_of(doc)
    decision = admit(body, headers(body, secret, **extra), POLICY, now_ms=NOW)
    assert isinstance(decision, Rejection), decision
    assert (decision.reason, decision.field) == (reason, field)
    problem = problem_document(decision, instance="/hook")
    assert problem["status"] == decision.status
    assert problem["reason"] == reason.value
    assert problem["type"].endswith(reason.value)


@pytest.mark.parametrize("flag", [True, False, None, "true"])
def test_the_reconciliation_marker_is_refused_on_the_webhook_path(flag: object) -> None:
    # Only our reconciliation job may mark an event as a correction, whatever the value
    doc = event(id="r-1")
    doc["wxccstreamreconciled"] = flag
    body = body_of(doc)
    decision = signed_admit(body)
    assert isinstance(decision, Rejection), decision
    assert (decision.status, decision.reason, decision.field) == (
        400,
        Reason.INVALID_EVENT,
        "wxccstreamreconciled",
    )
    assert (decision.event_id, decision.event_type) == ("r-1", "agent:login")
    problem = problem_document(decision)
    assert problem["field"] == "wxccstreamreconciled"
    assert "wxccstreamreconciled" in problem["detail"]


def test_the_reconciliation_marker_is_checked_after_the_signature() -> None:
    doc = event()
    doc["wxccstreamreconciled"] = True
    body = body_of(doc)
    decision = admit(body, headers(body, "wrong"), POLICY, now_ms=NOW)
    assert isinstance(decision, Rejection)
    assert decision.reason is Reason.BAD_SIGNATURE


@pytest.mark.parametrize("body", [b"", b"{", b'{"id": "x",', b"\xff\xfe", b"nul", b"[1,]"])
def test_invalid_json_is_400_on_body(body: bytes) -> None:
    decision = signed_admit(body)
    assert isinstance(decision, Rejection)
    assert (decision.reason, decision.status, decision.field) == (Reason.INVALID_JSON, 400, "body")


@pytest.mark.parametrize("spelling", ["comciscoorgid", "comciscocorgid"])
def test_org_allow_list_reads_both_spellings(spelling: str) -> None:
    policy = AdmissionPolicy(secrets=POLICY.secrets, allowed_orgs=frozenset({"org-ok"}))
    for org, accepted in (("org-ok", True), ("org-other", False)):
        doc = event(comciscoorgid=None)
        doc[spelling] = org
        decision = signed_admit(body_of(doc), policy)
        if accepted:
            assert isinstance(decision, Accepted)
        else:
            assert isinstance(decision, Rejection)
            assert (decision.reason, decision.status) == (Reason.UNKNOWN_ORG, 403)


def test_subscription_allow_list_and_missing_secret() -> None:
    allow = AdmissionPolicy(secrets=POLICY.secrets, allowed_subscriptions=frozenset({"other"}))
    decision = signed_admit(body_of(event()), allow)
    assert isinstance(decision, Rejection)
    assert decision.reason is Reason.UNKNOWN_SUBSCRIPTION
    no_secret = AdmissionPolicy(secrets=parse_secrets("someone-else=x"))
    decision = signed_admit(body_of(event()), no_secret)
    assert isinstance(decision, Rejection)
    assert decision.reason is Reason.UNKNOWN_SUBSCRIPTION
    assert "secret" in decision.detail


def test_v2_delivery_with_matching_timestamp_is_accepted_as_number_or_string() -> None:
    for stamp in (int(V2), V2):
        decision = signed_admit(body_of(event(comciscotimestamp=stamp)), X_WebExCC_Timestamp=V2)
        assert isinstance(decision, Accepted), decision


def test_without_verification_anything_well_formed_passes() -> None:
    policy = AdmissionPolicy(verify_signatures=False)
    old = NOW - 10**9
    body = body_of(event(comciscotimestamp=old))
    assert isinstance(admit(body, headers(body, None), policy, now_ms=NOW), Accepted)


def test_unknown_fields_and_unknown_v2_types_are_kept() -> None:
    doc = event(type="agent:channel_state_change", futureattr={"x": [1, 2]})
    doc["data"]["brandNewField"] = {"nested": True}
    body = body_of(doc)
    decision = signed_admit(body)
    assert isinstance(decision, Accepted)
    assert decision.events[0].value == body
    assert decision.events[0].event.data["brandNewField"] == {"nested": True}
    assert decision.events[0].event.extensions["futureattr"] == {"x": [1, 2]}


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, "accept"),
        ("application/json", "accept"),
        ("application/json; charset=utf-8", "accept"),
        ("Application/CloudEvents+JSON", "accept"),
        ("text/plain", Reason.UNSUPPORTED_MEDIA_TYPE),
        ("application/xml", Reason.UNSUPPORTED_MEDIA_TYPE),
    ],
)
def test_structured_media_types(content_type: str | None, expected: object) -> None:
    body = body_of(event())
    h = headers(body, "s1")
    del h["Content-Type"]
    if content_type is not None:
        h["Content-Type"] = content_type
    decision = admit(body, h, POLICY, now_ms=NOW)
    if expected == "accept":
        assert isinstance(decision, Accepted)
    else:
        assert isinstance(decision, Rejection)
        assert (decision.reason, decision.status) == (expected, 415)


def test_media_type() -> None:
    assert media_type(None) == ""
    assert media_type(" Application/JSON ; charset=x") == "application/json"


def binary_headers(data: bytes, secret: str | None, **attrs: str) -> CIMultiDict[str]:
    h = headers(data, secret)
    for name, value in attrs.items():
        h[f"ce-{name}"] = value
    return h


def test_binary_mode_stores_the_structured_form_with_data_verbatim() -> None:
    data = b'{ "agentId" : "a-9", "createdTime": 1700000000000, "extra": [1, 2] }'
    h = binary_headers(
        data,
        "s1",
        id="b-1",
        specversion="1.0",
        type="agent:logout",
        source=f"/com/cisco/wxcc/{SUB}",
        comciscoorgid="org%2D1",
    )
    decision = admit(data, h, POLICY, now_ms=NOW)
    assert isinstance(decision, Accepted), decision
    assert decision.mode is Mode.BINARY
    (admitted,) = decision.events
    assert admitted.value.endswith(b',"data":' + data + b"}")
    stored = orjson.loads(admitted.value)
    assert stored["id"] == "b-1"
    assert stored["comciscoorgid"] == "org-1"  # percent-decoded
    assert stored["datacontenttype"] == "application/json"
    assert parse_event_bytes(admitted.value, received_at=NOW).entity_id == "a-9"


def test_binary_mode_refusals() -> None:
    attrs = {"id": "b", "specversion": "1.0", "type": "agent:logout"}
    data = b'{"agentId": "a"}'
    no_source = admit(data, binary_headers(data, "s1", **attrs), POLICY, now_ms=NOW)
    assert isinstance(no_source, Rejection)
    assert no_source.field == "source"
    bad = binary_headers(b"{", "s1", source=f"/com/cisco/wxcc/{SUB}", **attrs)
    decision = admit(b"{", bad, POLICY, now_ms=NOW)
    assert isinstance(decision, Rejection)
    assert (decision.reason, decision.field) == (Reason.INVALID_JSON, "data")
    h = binary_headers(data, "s1", source=f"/com/cisco/wxcc/{SUB}", **attrs)
    h["Content-Type"] = "text/plain"
    decision = admit(data, h, POLICY, now_ms=NOW)
    assert isinstance(decision, Rejection)
    assert decision.reason is Reason.UNSUPPORTED_MEDIA_TYPE


def batch_headers(body: bytes, *secrets: str) -> CIMultiDict[str]:
    h = headers(body, secrets[0] if secrets else None)
    h["Content-Type"] = "application/cloudevents-batch+json"
    return h


def test_batch_mode_stores_each_event_with_its_own_bytes() -> None:
    first = body_of(event(id="b1"))
    second = b'{"id":"b2" , "specversion":"1.0","type":"task:new","source":"/com/cisco/wxcc/' + (
        SUB.encode() + b'","data":{"taskId":"t-1","createdTime":5}}'
    )
    body = b"[ " + first + b",\n  " + second + b" ]"
    decision = admit(body, batch_headers(body, "s1"), POLICY, now_ms=NOW)
    assert isinstance(decision, Accepted), decision
    assert decision.mode is Mode.BATCH
    assert [a.value for a in decision.events] == [first, second]
    assert [a.event.entity_id for a in decision.events] == ["a-1", "t-1"]


def test_a_batch_is_all_or_nothing_and_names_each_bad_event() -> None:
    body = body_of([event(id="ok"), event(id="bad", data={"agentId": 3}), event(type="x:y")])
    decision = admit(body, batch_headers(body, "s1"), POLICY, now_ms=NOW)
    assert isinstance(decision, Rejection)
    assert decision.reason is Reason.INVALID_EVENT
    assert [(e.index, e.field) for e in decision.errors] == [(1, "data.agentId"), (2, "type")]
    problem = problem_document(decision)
    assert [e["index"] for e in problem["errors"]] == [1, 2]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{}", Reason.INVALID_EVENT),
        (b"[]", Reason.INVALID_EVENT),
        (b"[1]", Reason.INVALID_EVENT),
        (b"[", Reason.INVALID_JSON),
    ],
)
def test_batch_refusals(body: bytes, reason: Reason) -> None:
    decision = admit(body, batch_headers(body, "s1"), POLICY, now_ms=NOW)
    assert isinstance(decision, Rejection)
    assert decision.reason is reason


def test_a_batch_over_two_subscriptions_needs_a_signature_valid_for_both() -> None:
    other = event(id="o", source="/com/cisco/wxcc/AXXbFkWZ331_GLMMoS3N")
    body = body_of([event(), other])
    decision = admit(body, batch_headers(body, "s1"), POLICY, now_ms=NOW)
    assert isinstance(decision, Rejection)
    assert decision.reason is Reason.BAD_SIGNATURE
    shared = AdmissionPolicy(secrets=parse_secrets(f"{SUB}=k,AXXbFkWZ331_GLMMoS3N=k"))
    assert isinstance(admit(body, batch_headers(body, "k"), shared, now_ms=NOW), Accepted)


def test_the_reconciliation_marker_is_refused_in_binary_and_batch_modes() -> None:
    data = b'{"agentId": "a"}'
    attrs = {"id": "b", "specversion": "1.0", "type": "agent:logout"}
    h = binary_headers(
        data, "s1", source=f"/com/cisco/wxcc/{SUB}", wxccstreamreconciled="true", **attrs
    )
    decision = admit(data, h, POLICY, now_ms=NOW)
    assert isinstance(decision, Rejection), decision
    assert (decision.reason, decision.field) == (Reason.INVALID_EVENT, "wxccstreamreconciled")
    marked = event(id="m")
    marked["wxccstreamreconciled"] = True
    body = body_of([event(id="ok"), marked])
    decision = admit(body, batch_headers(body, "s1"), POLICY, now_ms=NOW)
    assert isinstance(decision, Rejection), decision
    assert decision.reason is Reason.INVALID_EVENT
    assert [(e.index, e.field) for e in decision.errors] == [(1, "wxccstreamreconciled")]


# --- properties -----------------------------------------------------------------------------

header_names = st.sampled_from(
    [
        "Content-Type",
        "X-WebexCC-Signature",
        "X-WebExCC-Timestamp",
        "ce-id",
        "ce-specversion",
        "ce-type",
        "ce-source",
        "ce-comciscotimestamp",
        "X-Other",
    ]
)
header_values = st.sampled_from(
    [
        "application/json",
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
        "1.0",
        "agent:login",
        f"/com/cisco/wxcc/{SUB}",
        V2,
        "",
    ]
) | st.text(max_size=20)


def mutate(doc: Any, path: list[str], value: Any) -> Any:
    if not path or not isinstance(doc, dict):
        return value
    out = dict(doc)
    out[path[0]] = mutate(doc.get(path[0], {}), path[1:], value)
    return out


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text(max_size=5)
    | st.just({})
)
bodies = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(sorted(EXAMPLES.values())),
    st.builds(
        lambda base, path, value: body_of(mutate(orjson.loads(base), path, value)),
        st.sampled_from(sorted(EXAMPLES.values())),
        st.lists(
            st.sampled_from(["id", "type", "source", "data", "agentId", "taskId", "createdTime"]),
            min_size=1,
            max_size=2,
        ),
        json_leaf,
    ),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=bodies,
    extra=st.lists(st.tuples(header_names, header_values), max_size=4),
    sign_with=st.sampled_from([None, "s1", "s2", "s3"]),
)
def test_admit_never_raises_and_accepts_only_valid_signed_events(
    body: bytes, extra: list[tuple[str, str]], sign_with: str | None
) -> None:
    h: CIMultiDict[str] = CIMultiDict()
    for name, value in extra:
        h[name] = value
    if sign_with is not None:
        h["X-WebexCC-Signature"] = sign(body, sign_with)
    decision = admit(body, h, POLICY, now_ms=NOW)
    if isinstance(decision, Rejection):
        assert 400 <= decision.status < 500
        return
    for admitted in decision.events:
        parse_event_bytes(admitted.value, received_at=NOW)  # raises if invalid
        secrets = POLICY.secrets[admitted.event.subscription_id]
        assert verify(body, h.get("X-WebexCC-Signature"), secrets) is SignatureCheck.VALID
