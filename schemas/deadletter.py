"""The dead-letter document the processors publish: one builder for every reason. Pure.

Every document has `stage`, `reason` and `detail`, plus the fields of its reason (where the
record was read, the body, the events kept and rejected, ...); keys are sorted, so equal
documents are equal bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["PROCESSOR", "body_fields", "deadletter_document"]

PROCESSOR = "processor"
"""The stage of the documents the worker writes."""


def deadletter_document(
    reason: str, detail: str, fields: Mapping[str, Any], *, stage: str = PROCESSOR
) -> bytes:
    """A dead-letter document: why (`reason`, `detail`) and what (`fields`)."""
    doc = {**fields, "stage": stage, "reason": reason, "detail": detail}
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def body_fields(body: bytes) -> dict[str, str]:
    """A record's body as it goes in a document: text when UTF-8, else base64."""
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"bodyBase64": base64.b64encode(body).decode()}
