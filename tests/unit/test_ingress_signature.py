"""Signing and verification as WxCC does it, plus the v2 timestamp rule."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wxcc_stream.base.settings import IngressSettings, SettingsError
from wxcc_stream.ingress.policy import AdmissionPolicy, parse_list
from wxcc_stream.schemas.signing import (
    SignatureCheck,
    TimestampCheck,
    check_timestamp,
    parse_header_timestamp,
    parse_secrets,
    sign,
    verify,
)

BODY = b'{"id":"1","source":"/com/cisco/wxcc/sub"}'
OLD, NEW = b"old-secret-0123456789abcdef0123456789", b"new-secret-0123456789abcdef0123456789"


def test_sign_is_lowercase_hex_hmac_sha256_of_the_raw_body() -> None:
    expected = hmac.new(OLD, BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, OLD) == expected
    assert sign(BODY, OLD.decode()) == expected
    assert expected == expected.lower()


@pytest.mark.parametrize(
    ("header", "secrets", "expected"),
    [
        (sign(BODY, OLD), (OLD,), SignatureCheck.VALID),
        (sign(BODY, OLD).upper(), (OLD,), SignatureCheck.VALID),
        ("sha256=" + sign(BODY, OLD), (OLD,), SignatureCheck.VALID),
        (f"  {sign(BODY, OLD)} ", (OLD,), SignatureCheck.VALID),
        # rotation: either of the configured secrets is accepted
        (sign(BODY, OLD), (NEW, OLD), SignatureCheck.VALID),
        (sign(BODY, NEW), (NEW, OLD), SignatureCheck.VALID),
        (sign(BODY, NEW), (OLD,), SignatureCheck.MISMATCH),
        (sign(BODY + b" ", OLD), (OLD,), SignatureCheck.MISMATCH),
        (sign(BODY, OLD)[:-1], (OLD,), SignatureCheck.MISMATCH),
        ("zz" * 32, (OLD,), SignatureCheck.MISMATCH),
        ("é" * 64, (OLD,), SignatureCheck.MISMATCH),
        (sign(BODY, OLD), (), SignatureCheck.MISMATCH),
        (None, (OLD,), SignatureCheck.MISSING),
        ("", (OLD,), SignatureCheck.MISSING),
        ("   ", (OLD,), SignatureCheck.MISSING),
    ],
)
def test_verify(header: str | None, secrets: tuple[bytes, ...], expected: SignatureCheck) -> None:
    assert verify(BODY, header, secrets) is expected


@given(body=st.binary(max_size=200), secret=st.binary(min_size=1, max_size=64))
def test_a_signature_verifies_with_its_secret_only(body: bytes, secret: bytes) -> None:
    assert verify(body, sign(body, secret), [secret]) is SignatureCheck.VALID
    assert verify(body, sign(body, secret), [secret + b"x"]) is SignatureCheck.MISMATCH
    assert verify(body + b"x", sign(body, secret), [secret]) is SignatureCheck.MISMATCH


NOW = 1_700_000_000_000
TOL = 300_000


@pytest.mark.parametrize(
    ("header", "body_ts", "expected"),
    [
        (None, None, TimestampCheck.VALID),  # a v1 delivery
        (str(NOW), NOW, TimestampCheck.VALID),
        (str(NOW - TOL), NOW - TOL, TimestampCheck.VALID),
        (str(NOW + TOL), NOW + TOL, TimestampCheck.VALID),
        (str(NOW), NOW + 1, TimestampCheck.MISMATCH),
        (None, NOW, TimestampCheck.MISMATCH),
        (str(NOW), None, TimestampCheck.MISMATCH),
        ("soon", NOW, TimestampCheck.MISMATCH),
        ("-1", None, TimestampCheck.MISMATCH),
        (str(NOW - TOL - 1), NOW - TOL - 1, TimestampCheck.OUT_OF_RANGE),
        (str(NOW + TOL + 1), NOW + TOL + 1, TimestampCheck.OUT_OF_RANGE),
    ],
)
def test_check_timestamp(header: str | None, body_ts: int | None, expected: TimestampCheck) -> None:
    assert check_timestamp(header, body_ts, now_ms=NOW, tolerance_ms=TOL) is expected


def test_batches_only_check_the_age_of_each_value() -> None:
    check = check_timestamp(str(NOW), NOW - 5, now_ms=NOW, tolerance_ms=TOL, require_equal=False)
    assert check is TimestampCheck.VALID
    stale = check_timestamp(None, NOW - TOL - 1, now_ms=NOW, tolerance_ms=TOL, require_equal=False)
    assert stale is TimestampCheck.OUT_OF_RANGE


@pytest.mark.parametrize(
    ("text", "expected"),
    [("123", 123), (" 42 ", 42), ("", None), ("1e3", None), ("٣", None), ("9" * 19, None)],
)
def test_parse_header_timestamp(text: str, expected: int | None) -> None:
    assert parse_header_timestamp(text) == expected


def test_parse_secrets_accepts_several_per_subscription() -> None:
    parsed = parse_secrets(" a=s1|s2 , b=s3,a=s4,")
    assert dict(parsed) == {"a": (b"s1", b"s2", b"s4"), "b": (b"s3",)}
    assert parse_secrets("") == {}


@pytest.mark.parametrize("text", ["nosep", "=secret", "a=", "a=|"])
def test_parse_secrets_rejects_malformed_entries_without_echoing_secrets(text: str) -> None:
    with pytest.raises(SettingsError) as info:
        parse_secrets(text.replace("secret", "s3cr3t-value"))
    assert "s3cr3t-value" not in str(info.value)


def test_policy_from_settings_and_secrets_never_in_repr() -> None:
    settings = IngressSettings(
        secrets="sub=very-secret-value", allowed_orgs="o1, o2", allowed_subscriptions="sub"
    )
    policy = AdmissionPolicy.from_settings(settings)
    assert "very-secret-value" not in repr(policy)
    assert policy.allowed_orgs == {"o1", "o2"}
    assert policy.subscription_allowed("sub")
    assert not policy.subscription_allowed("other")
    assert policy.org_allowed("o1")
    assert not policy.org_allowed(None)
    assert AdmissionPolicy().org_allowed(None)
    assert AdmissionPolicy().subscription_allowed("anything")
    assert parse_list(" , ") == frozenset()
