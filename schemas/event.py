"""The normalised internal event every stage after ingress works with."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import msgspec
import orjson


class EntityKind(StrEnum):
    """Which per-entity stream an event belongs to."""

    AGENT = "agent"
    TASK = "task"


class TimeSource(StrEnum):
    """Where an event's time came from: the vendor's createdTime, or an inference."""

    CREATED_TIME = "createdTime"
    COMCISCOTIMESTAMP = "comciscotimestamp"
    RECEIVED_AT = "received_at"


# a frozen msgspec Struct: one is built per received or decoded event, and its C
# constructor and comparison cost a tenth of a frozen dataclass's (same equality)
class Event(msgspec.Struct, frozen=True, gc=False):
    """One WxCC event, validated and normalised.

    `entity_kind`/`entity_id` name the event's primary entity (agentId for `agent:*`,
    taskId for `task:*` and `capture:*`). `data` is the CloudEvent's data object as
    received, unknown fields included; `extensions` keeps envelope attributes we do
    not model so nothing the vendor sent is lost.
    """

    entity_kind: EntityKind
    entity_id: str
    type: str
    created_time: int
    ce_id: str
    ce_source: str
    org_id: str | None
    data: Mapping[str, Any]
    time_source: TimeSource = TimeSource.CREATED_TIME
    received_at: int | None = None
    reconciled: bool = False
    extensions: Mapping[str, Any] = msgspec.field(default_factory=dict)

    @property
    def time_inferred(self) -> bool:
        """True when the event carried no createdTime and its time was inferred."""
        return self.time_source is not TimeSource.CREATED_TIME

    @property
    def subscription_id(self) -> str:
        """The subscription id at the end of `source` (`/com/cisco/wxcc/{id}`)."""
        return self.ce_source.rstrip("/").rsplit("/", 1)[-1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; the inverse of `from_dict`."""
        return {
            "entityKind": self.entity_kind.value,
            "entityId": self.entity_id,
            "type": self.type,
            "createdTime": self.created_time,
            "timeSource": self.time_source.value,
            "id": self.ce_id,
            "source": self.ce_source,
            "orgId": self.org_id,
            "receivedAt": self.received_at,
            "reconciled": self.reconciled,
            "extensions": dict(self.extensions),
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Event:
        """Rebuild an event from `to_dict` output."""
        return cls(
            entity_kind=EntityKind(raw["entityKind"]),
            entity_id=raw["entityId"],
            type=raw["type"],
            created_time=int(raw["createdTime"]),
            ce_id=raw["id"],
            ce_source=raw["source"],
            org_id=raw.get("orgId"),
            data=raw.get("data") or {},
            time_source=TimeSource(raw.get("timeSource", TimeSource.CREATED_TIME.value)),
            received_at=raw.get("receivedAt"),
            reconciled=bool(raw.get("reconciled", False)),
            extensions=raw.get("extensions") or {},
        )

    def to_json(self) -> bytes:
        """Serialise with orjson (sorted keys, so equal events give equal bytes)."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        """Parse `to_json` output."""
        return cls.from_dict(orjson.loads(raw))
