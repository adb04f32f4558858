"""Why a delivery was refused, and the RFC 9457 problem document that says so."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

PROBLEM_CONTENT_TYPE = "application/problem+json"
_TYPE_PREFIX = "urn:wxcc-stream:problem:"


class Reason(StrEnum):
    """Every reason a request is answered with something else than 2xx."""

    BODY_TOO_LARGE = "body_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INVALID_JSON = "invalid_json"
    INVALID_EVENT = "invalid_event"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_SUBSCRIPTION = "unknown_subscription"
    UNKNOWN_ORG = "unknown_org"
    MISSING_SIGNATURE = "missing_signature"
    BAD_SIGNATURE = "bad_signature"
    TIMESTAMP_MISMATCH = "timestamp_mismatch"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    UNAVAILABLE = "unavailable"


_STATUS_TITLE: Mapping[Reason, tuple[int, str]] = {
    Reason.BODY_TOO_LARGE: (413, "Request body too large"),
    Reason.UNSUPPORTED_MEDIA_TYPE: (415, "Unsupported media type"),
    Reason.INVALID_JSON: (400, "Body is not valid JSON"),
    Reason.INVALID_EVENT: (400, "Not a valid WxCC CloudEvent"),
    Reason.UNKNOWN_TYPE: (400, "Unknown event type"),
    Reason.UNKNOWN_SUBSCRIPTION: (403, "Subscription not accepted here"),
    Reason.UNKNOWN_ORG: (403, "Organization not accepted here"),
    Reason.MISSING_SIGNATURE: (403, "Signature missing"),
    Reason.BAD_SIGNATURE: (403, "Signature does not match"),
    Reason.TIMESTAMP_MISMATCH: (403, "Timestamp header does not match the event"),
    Reason.TIMESTAMP_OUT_OF_RANGE: (403, "Timestamp too far from now"),
    Reason.UNAVAILABLE: (503, "Cannot store the event right now"),
}


def status_of(reason: Reason) -> int:
    """The HTTP status a reason is answered with."""
    return _STATUS_TITLE[reason][0]


@dataclass(frozen=True, slots=True)
class ItemError:
    """What is wrong with one event of a batch."""

    index: int
    field: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused delivery: reason, human detail and the offending field if known."""

    reason: Reason
    detail: str
    field: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    errors: tuple[ItemError, ...] = ()

    @property
    def status(self) -> int:
        return status_of(self.reason)


def problem_document(rejection: Rejection, *, instance: str | None = None) -> dict[str, Any]:
    """The RFC 9457 problem object, with `reason`, `field` and batch `errors` as extensions."""
    status, title = _STATUS_TITLE[rejection.reason]
    doc: dict[str, Any] = {
        "type": _TYPE_PREFIX + rejection.reason.value,
        "title": title,
        "status": status,
        "detail": rejection.detail,
        "reason": rejection.reason.value,
    }
    if instance is not None:
        doc["instance"] = instance
    if rejection.field is not None:
        doc["field"] = rejection.field
    if rejection.event_id is not None:
        doc["eventId"] = rejection.event_id
    if rejection.errors:
        doc["errors"] = [
            {"index": e.index, "field": e.field, "detail": e.detail} for e in rejection.errors
        ]
    return doc


def problem_body(rejection: Rejection, *, instance: str | None = None) -> bytes:
    """The problem document serialised as JSON."""
    return orjson.dumps(problem_document(rejection, instance=instance))
