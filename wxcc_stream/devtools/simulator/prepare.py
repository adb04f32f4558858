"""Turn a generated event into the HTTP request WxCC would send: body, signature, v2 headers.
Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

from wxcc_stream.schemas.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, VERSION_HEADER, sign

TIMESTAMP_ATTRIBUTE = "comciscotimestamp"


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """The secret to sign with, per subscription id (the first of a rotation list), and an
    optional secret for every subscription (`--secret`)."""

    by_subscription: Mapping[str, bytes] = field(
        default_factory=lambda: MappingProxyType({}), repr=False
    )
    fallback: bytes | None = field(default=None, repr=False)

    def for_source(self, source: object) -> bytes | None:
        """The secret for the subscription at the end of `source`, if any."""
        if not isinstance(source, str):
            return self.fallback
        sub = source.rstrip("/").rsplit("/", 1)[-1]
        return self.by_subscription.get(sub, self.fallback)


@dataclass(frozen=True, slots=True)
class Prepared:
    """One request ready to send."""

    event_id: str
    event_type: str
    body: bytes
    headers: Mapping[str, str]


def prepare(
    event: Mapping[str, Any], keys: SigningKeys, *, now_ms: int, restamp: bool = True
) -> Prepared:
    """Serialise and sign one event.

    A v2 event (one with `comciscotimestamp`) gets the v2 headers. With `restamp`, its
    `comciscotimestamp` becomes `now_ms` (in the type it had: number or string), as a
    live delivery made now would carry; data.createdTime, the event's own time, is kept.
    """
    doc = dict(event)
    headers = {"Content-Type": "application/json"}
    stamp = doc.get(TIMESTAMP_ATTRIBUTE)
    if stamp is not None:
        if restamp:
            stamp = str(now_ms) if isinstance(stamp, str) else now_ms
            doc[TIMESTAMP_ATTRIBUTE] = stamp
        headers[TIMESTAMP_HEADER] = str(stamp)
        namespace = str(doc.get("type", "")).partition(":")[0] or "agent"
        headers[VERSION_HEADER] = f"{namespace}:1.0.0"
    body = orjson.dumps(doc)
    secret = keys.for_source(doc.get("source"))
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    return Prepared(str(doc.get("id")), str(doc.get("type")), body, MappingProxyType(headers))
