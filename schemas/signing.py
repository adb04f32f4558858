"""WxCC webhook signing: hex HMAC-SHA256 of the raw body, the v2 timestamp check and the
secrets format (`subId=secret1|secret2,...`). Shared by the ingress and the simulator. Pure."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType

from wxcc_stream.base.settings import SettingsError

SIGNATURE_HEADER = "X-WebexCC-Signature"
TIMESTAMP_HEADER = "X-WebExCC-Timestamp"
VERSION_HEADER = "X-WebexCC-Webhook-Version"


class SignatureCheck(StrEnum):
    """Outcome of checking a delivery's signature."""

    VALID = "valid"
    MISSING = "missing"
    MISMATCH = "mismatch"


class TimestampCheck(StrEnum):
    """Outcome of checking a v2 delivery's timestamp header against its body."""

    VALID = "valid"
    MISMATCH = "mismatch"
    OUT_OF_RANGE = "out_of_range"


def sign(body: bytes, secret: bytes | str) -> str:
    """The header value WxCC sends: lowercase hex HMAC-SHA256(secret, body)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str | None, secrets: Sequence[bytes]) -> SignatureCheck:
    """Check `signature` against every secret (rotation), in constant time per secret.

    Every secret is tried even after a match so the time taken does not reveal which
    one matched. An optional `sha256=` prefix and upper-case hex are tolerated.
    """
    text = signature.strip() if signature else ""
    if not text:
        return SignatureCheck.MISSING
    if text[:7].lower() == "sha256=":
        text = text[7:]
    try:
        given = bytes.fromhex(text)
    except ValueError:  # not hex at all: cannot match any secret
        given = b""
    matched = False
    for secret in secrets:
        mac = _keyed(secret).copy()
        mac.update(body)
        # raw digests compared in constant time
        matched |= hmac.compare_digest(mac.digest(), given)
    return SignatureCheck.VALID if matched else SignatureCheck.MISMATCH


@lru_cache(maxsize=64)
def _keyed(secret: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 already keyed with `secret`: a copy of it skips the key setup (and
    OpenSSL 3's per-call digest lookup), half the cost of a one-shot `hmac.digest`."""
    return hmac.new(secret, digestmod=hashlib.sha256)


def parse_header_timestamp(value: str | None) -> int | None:
    """The header's epoch ms, or None when absent or not a plain integer."""
    if value is None:
        return None
    text = value.strip()
    if not (0 < len(text) <= 18 and text.isascii() and text.isdigit()):
        return None
    return int(text)


def check_timestamp(
    header: str | None,
    body_timestamp: int | None,
    *,
    now_ms: int,
    tolerance_ms: int,
    require_equal: bool = True,
) -> TimestampCheck:
    """v2 replay protection: the header equals the body's `comciscotimestamp`, near now.

    A v1 delivery has neither and passes. One without the other is a mismatch (the
    header is not signed, the body is: equality is what binds the header to the
    signature). `require_equal=False` (batches) only checks each value's age.
    """
    header_ms = parse_header_timestamp(header)
    if header is None and body_timestamp is None:
        return TimestampCheck.VALID
    if require_equal and (header_ms is None or header_ms != body_timestamp):
        return TimestampCheck.MISMATCH
    if header is not None and header_ms is None:
        return TimestampCheck.MISMATCH
    for value in (header_ms, body_timestamp):
        if value is not None and abs(now_ms - value) > tolerance_ms:
            return TimestampCheck.OUT_OF_RANGE
    return TimestampCheck.VALID


def parse_secrets(text: str) -> Mapping[str, tuple[bytes, ...]]:
    """Parse `subId=secret1|secret2,other=secret` into subscription id -> secrets.

    Several secrets for one subscription are all accepted, so a secret can be rotated
    without downtime. Errors never echo a secret, only the subscription id.
    """
    result: dict[str, tuple[bytes, ...]] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        sub_id, sep, values = item.partition("=")
        sub_id = sub_id.strip()
        if not sep or not sub_id:
            raise SettingsError(
                "WXCC_INGRESS_SECRETS: expected subscriptionId=secret[|secret...], "
                "entries separated by commas"
            )
        secrets = tuple(s.strip().encode() for s in values.split("|") if s.strip())
        if not secrets:
            raise SettingsError(f"WXCC_INGRESS_SECRETS: subscription {sub_id!r} has no secret")
        result[sub_id] = result.get(sub_id, ()) + secrets
    return MappingProxyType(result)
