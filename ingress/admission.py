"""Decide what to do with one HTTP delivery: the events to store, or why it is refused. Pure.

Three CloudEvents HTTP modes are understood: structured (`application/json` as WxCC
sends it, or `application/cloudevents+json`), binary (attributes in `ce-*` headers, the
body is `data`) and batch (`application/cloudevents-batch+json`, a JSON array of
structured events, all stored or none). The checks run in this order: media type, JSON,
subscription allow-list, signature, reserved attributes, schema, event type, v2 timestamp,
org allow-list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

import orjson

from wxcc_stream.ingress.batch import split_array
from wxcc_stream.ingress.policy import AdmissionPolicy
from wxcc_stream.ingress.problems import ItemError, Reason, Rejection
from wxcc_stream.schemas.cloudevent import SchemaError, decode_json, parse_event
from wxcc_stream.schemas.event import Event
from wxcc_stream.schemas.models import RECONCILED_ATTRIBUTE, TIMESTAMP_ATTRIBUTE, epoch_ms
from wxcc_stream.schemas.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureCheck,
    TimestampCheck,
    check_timestamp,
    verify,
)

STRUCTURED_TYPE = "application/cloudevents+json"
BATCH_TYPE = "application/cloudevents-batch+json"
JSON_TYPE = "application/json"
# Event types outside these namespaces are not WxCC's; unknown types inside them (the
# v2 API adds some) are stored, and the processors count what they do not fold.
KNOWN_NAMESPACES = frozenset({"agent", "task", "capture", "task-message"})
# Attributes only our own jobs may set: a webhook delivery carrying one is refused.
RESERVED_ATTRIBUTES = (RECONCILED_ATTRIBUTE,)


class Mode(StrEnum):
    """The CloudEvents HTTP content mode of a delivery."""

    STRUCTURED = "structured"
    BINARY = "binary"
    BATCH = "batch"


@dataclass(frozen=True, slots=True)
class Admitted:
    """One valid event and the bytes to store for it (the event as received)."""

    event: Event
    value: bytes


@dataclass(frozen=True, slots=True)
class Accepted:
    """Every event of the delivery is valid and may be stored."""

    mode: Mode
    events: tuple[Admitted, ...]


Decision = Accepted | Rejection


def media_type(content_type: str | None) -> str:
    """The bare, lower-case media type of a Content-Type value ('' when absent)."""
    if not content_type:
        return ""
    return _media_type(content_type)


@lru_cache(maxsize=64)
def _media_type(content_type: str) -> str:
    # a sender repeats the same few Content-Type values
    return content_type.partition(";")[0].strip().lower()


def subscription_of(source: str) -> str:
    """The subscription id at the end of a WxCC `source` (`/com/cisco/wxcc/{id}`)."""
    return source.rstrip("/").rsplit("/", 1)[-1]


def admit(
    body: bytes, headers: Mapping[str, str], policy: AdmissionPolicy, *, now_ms: int
) -> Decision:
    """The decision for one delivery; `headers` must look names up case-insensitively."""
    ctype = media_type(headers.get("Content-Type"))
    if ctype == BATCH_TYPE:
        return _admit_batch(body, headers, policy, now_ms)
    binary = "ce-specversion" in headers and ctype != STRUCTURED_TYPE
    if binary:
        if ctype and not (ctype == JSON_TYPE or ctype.endswith("+json")):
            return Rejection(
                Reason.UNSUPPORTED_MEDIA_TYPE,
                f"binary-mode data must be JSON, got {ctype!r}",
                field="Content-Type",
            )
        return _admit_binary(body, headers, policy, now_ms)
    if ctype not in ("", JSON_TYPE, STRUCTURED_TYPE):
        return Rejection(
            Reason.UNSUPPORTED_MEDIA_TYPE,
            f"expected {JSON_TYPE}, {STRUCTURED_TYPE} or {BATCH_TYPE}, got {ctype!r}",
            field="Content-Type",
        )
    try:
        raw = decode_json(body)
    except SchemaError as err:
        return Rejection(Reason.INVALID_JSON, err.reason, field=err.field)
    return _admit_one(raw, body, body, headers, policy, now_ms, Mode.STRUCTURED)


def _admit_binary(
    body: bytes, headers: Mapping[str, str], policy: AdmissionPolicy, now_ms: int
) -> Decision:
    attributes: dict[str, Any] = {}
    for name, text in headers.items():
        lower = name.lower()
        if lower.startswith("ce-") and len(lower) > 3:
            attributes[lower[3:]] = unquote(text)
    content_type = headers.get("Content-Type")
    if content_type:
        attributes["datacontenttype"] = content_type
    try:
        data = decode_json(body)
    except SchemaError as err:
        return Rejection(Reason.INVALID_JSON, err.reason, field="data")
    # Binary mode has no envelope bytes to keep: store the structured form, with the
    # received body spliced in verbatim as `data`.
    try:
        envelope = orjson.dumps(attributes)
    except orjson.JSONEncodeError:
        return Rejection(Reason.INVALID_EVENT, "a ce-* header is not valid UTF-8", field="headers")
    value = envelope[:-1] + b',"data":' + body.strip(b" \t\r\n") + b"}"
    raw = {**attributes, "data": data}
    return _admit_one(raw, value, body, headers, policy, now_ms, Mode.BINARY)


def _identity(raw: Any) -> tuple[str | None, str | None]:
    if not isinstance(raw, dict):  # JSON objects decode to dicts
        return None, None
    ce_id, ce_type = raw.get("id"), raw.get("type")
    return (
        ce_id if isinstance(ce_id, str) else None,
        ce_type if isinstance(ce_type, str) else None,
    )


def _subscription(raw: Any) -> str | SchemaError:
    """The subscription id at the end of the event's `source`."""
    if not isinstance(raw, dict):
        return SchemaError("body", "expected a JSON object")
    source = raw.get("source")
    subscription = subscription_of(source) if isinstance(source, str) else ""
    if not subscription:
        return SchemaError("source", "missing, empty or not a string")
    return subscription


def _reserved(raw: Any) -> str | None:
    """The first attribute only our own jobs may set, when the event carries one."""
    for name in RESERVED_ATTRIBUTES:
        if name in raw:
            return name
    return None


def _reserved_detail(name: str) -> str:
    return f"{name} is reserved for wxcc-stream's own corrective events, not for webhooks"


def _authenticate(
    body: bytes, headers: Mapping[str, str], subscriptions: Sequence[str], policy: AdmissionPolicy
) -> tuple[Reason, str] | None:
    """Allow-list, then signature: the body must verify with a secret of each subscription."""
    for sub in subscriptions:
        if not policy.subscription_allowed(sub):
            return Reason.UNKNOWN_SUBSCRIPTION, f"subscription {sub!r} is not in the allow-list"
    if not policy.verify_signatures:
        return None
    signature = headers.get(SIGNATURE_HEADER)
    for sub in subscriptions:
        secrets = policy.secrets.get(sub)
        if not secrets:
            return Reason.UNKNOWN_SUBSCRIPTION, f"no signing secret is configured for {sub!r}"
        check = verify(body, signature, secrets)
        if check is SignatureCheck.MISSING:
            return Reason.MISSING_SIGNATURE, f"header {SIGNATURE_HEADER} is required"
        if check is SignatureCheck.MISMATCH:
            return Reason.BAD_SIGNATURE, f"{SIGNATURE_HEADER} does not match the body"
    return None


def _body_timestamp(event: Event) -> int | None:
    stamp = event.extensions.get(TIMESTAMP_ATTRIBUTE)
    # already validated by the schema; None when the event has none
    return None if stamp is None else epoch_ms(stamp, TIMESTAMP_ATTRIBUTE, allow_string=True)


def _check_event(
    event: Event,
    headers: Mapping[str, str],
    policy: AdmissionPolicy,
    now_ms: int,
    *,
    require_equal: bool,
) -> tuple[Reason, str, str | None] | None:
    """Type namespace, v2 timestamp and org checks of one parsed event."""
    namespace, colon, _ = event.type.partition(":")
    if not colon or namespace not in KNOWN_NAMESPACES:
        return Reason.UNKNOWN_TYPE, f"event type {event.type!r} is not a WxCC type", "type"
    if policy.verify_signatures:
        header = headers.get(TIMESTAMP_HEADER)
        body_timestamp = _body_timestamp(event)
        # a v1 delivery has neither, and nothing to check
        if header is not None or body_timestamp is not None:
            check = check_timestamp(
                header,
                body_timestamp,
                now_ms=now_ms,
                tolerance_ms=policy.timestamp_tolerance_ms,
                require_equal=require_equal,
            )
            if check is TimestampCheck.MISMATCH:
                return (
                    Reason.TIMESTAMP_MISMATCH,
                    f"{TIMESTAMP_HEADER} must equal the event's {TIMESTAMP_ATTRIBUTE}",
                    TIMESTAMP_ATTRIBUTE,
                )
            if check is TimestampCheck.OUT_OF_RANGE:
                return (
                    Reason.TIMESTAMP_OUT_OF_RANGE,
                    f"timestamp is more than {policy.timestamp_tolerance_ms} ms from now",
                    TIMESTAMP_ATTRIBUTE,
                )
    if not policy.org_allowed(event.org_id):
        return Reason.UNKNOWN_ORG, f"org {event.org_id!r} is not in the allow-list", "comciscoorgid"
    return None


def _admit_one(
    raw: Any,
    value: bytes,
    body: bytes,
    headers: Mapping[str, str],
    policy: AdmissionPolicy,
    now_ms: int,
    mode: Mode,
) -> Decision:
    ce_id, ce_type = _identity(raw)
    subscription = _subscription(raw)
    if isinstance(subscription, SchemaError):
        return Rejection(
            Reason.INVALID_EVENT, subscription.reason, subscription.field, ce_id, ce_type
        )
    refused = _authenticate(body, headers, (subscription,), policy)
    if refused is not None:
        return Rejection(refused[0], refused[1], None, ce_id, ce_type)
    reserved = None if policy.reconciled_allowed else _reserved(raw)
    if reserved is not None:
        return Rejection(Reason.INVALID_EVENT, _reserved_detail(reserved), reserved, ce_id, ce_type)
    try:
        event = parse_event(raw, received_at=now_ms)
    except SchemaError as err:
        return Rejection(Reason.INVALID_EVENT, err.reason, err.field, ce_id, ce_type)
    problem = _check_event(event, headers, policy, now_ms, require_equal=True)
    if problem is not None:
        return Rejection(problem[0], problem[1], problem[2], ce_id, ce_type)
    return Accepted(mode, (Admitted(event, value),))


def _admit_batch(
    body: bytes, headers: Mapping[str, str], policy: AdmissionPolicy, now_ms: int
) -> Decision:
    try:
        raw = decode_json(body)
    except SchemaError as err:
        return Rejection(Reason.INVALID_JSON, err.reason, field=err.field)
    if not isinstance(raw, list):
        return Rejection(Reason.INVALID_EVENT, "a batch must be a JSON array", field="body")
    if not raw:
        return Rejection(Reason.INVALID_EVENT, "the batch is empty", field="body")
    values = split_array(body)
    errors: list[ItemError] = []
    subscriptions: dict[str, None] = {}
    for index, item in enumerate(raw):
        subscription = _subscription(item)
        if isinstance(subscription, SchemaError):
            errors.append(ItemError(index, subscription.field, subscription.reason))
        else:
            subscriptions[subscription] = None
    if errors:
        return _batch_rejection(Reason.INVALID_EVENT, errors)
    refused = _authenticate(body, headers, tuple(subscriptions), policy)
    if refused is not None:
        return Rejection(refused[0], refused[1])
    admitted: list[Admitted] = []
    first_reason: Reason | None = None
    for index, (item, value) in enumerate(zip(raw, values, strict=True)):
        reserved = None if policy.reconciled_allowed else _reserved(item)
        if reserved is not None:
            errors.append(ItemError(index, reserved, _reserved_detail(reserved)))
            first_reason = first_reason or Reason.INVALID_EVENT
            continue
        try:
            event = parse_event(item, received_at=now_ms)
        except SchemaError as err:
            errors.append(ItemError(index, err.field, err.reason))
            first_reason = first_reason or Reason.INVALID_EVENT
            continue
        problem = _check_event(event, headers, policy, now_ms, require_equal=len(raw) == 1)
        if problem is not None:
            errors.append(ItemError(index, problem[2], problem[1]))
            first_reason = first_reason or problem[0]
            continue
        admitted.append(Admitted(event, value))
    if first_reason is not None:
        return _batch_rejection(first_reason, errors)
    return Accepted(Mode.BATCH, tuple(admitted))


def _batch_rejection(reason: Reason, errors: list[ItemError]) -> Rejection:
    first = errors[0]
    detail = f"{len(errors)} event(s) of the batch refused; first, #{first.index}: {first.detail}"
    return Rejection(reason, detail, field=first.field, errors=tuple(errors))
