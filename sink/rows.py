"""Projection document -> table row: the key, the core fields typed, the whole document.

Times stay epoch milliseconds here; the merge statement turns them into `timestamptz`.
Fields are read with `.get`: a compatible change (new fields, same `schema_version`)
still maps, and the new fields live on in the JSONB column. A higher `schema_version`
stops the sink (NewerSchema).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson

from wxcc_stream.projections import SCHEMA_VERSION
from wxcc_stream.sink.errors import BadDocument, NewerSchema


class Projection(Enum):
    """The two projection topics, by the table each one fills."""

    AGENT = "agent_state"
    TASK = "task_lifecycle"


@dataclass(frozen=True, slots=True)
class Column:
    """A typed column: its name, the document field, the SQL type; `ms` for epoch-ms times."""

    name: str
    field: str
    sql_type: str
    ms: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """One projection's table: its key column and document field, the typed columns."""

    projection: Projection
    key: str
    key_field: str
    columns: tuple[Column, ...]

    @property
    def name(self) -> str:
        return self.projection.value


AGENT_TABLE = Table(
    Projection.AGENT,
    "agent_id",
    "agentId",
    (
        Column("org_id", "orgId", "text"),
        Column("team_id", "teamId", "text"),
        Column("logged_in", "loggedIn", "boolean"),
        Column("state", "state", "text"),
        Column("state_since", "stateSince", "timestamptz", ms=True),
        Column("idle_code_id", "idleCodeId", "text"),
        Column("session_start", "sessionStart", "timestamptz", ms=True),
        Column("last_event_time", "lastEventTime", "timestamptz", ms=True),
    ),
)
TASK_TABLE = Table(
    Projection.TASK,
    "task_id",
    "taskId",
    (
        Column("org_id", "orgId", "text"),
        Column("channel_type", "channelType", "text"),
        Column("direction", "direction", "text"),
        Column("queue_id", "queueId", "text"),
        Column("status", "status", "text"),
        Column("new_time", "newTime", "timestamptz", ms=True),
        Column("connected_time", "connectedTime", "timestamptz", ms=True),
        Column("ended_time", "endedTime", "timestamptz", ms=True),
        Column("queue_wait_ms", "queueWaitMs", "bigint"),
        Column("talk_ms", "talkMs", "bigint"),
        Column("hold_ms", "holdMs", "bigint"),
        Column("wrap_up_ms", "wrapUpMs", "bigint"),
        Column("hold_count", "holdCount", "integer"),
        Column("terminating_party", "terminatingParty", "text"),
        Column("last_event_time", "lastEventTime", "timestamptz", ms=True),
    ),
)
TABLES = {t.projection: t for t in (AGENT_TABLE, TASK_TABLE)}

Row = tuple[Any, ...]
"""(key, typed columns..., revision, schema_version, document JSON text)."""


def row_columns(table: Table) -> tuple[str, ...]:
    """Column names of a row, in row order."""
    return (table.key, *(c.name for c in table.columns), "revision", "schema_version", "doc")


def parse_document(value: bytes | None) -> dict[str, Any]:
    """The record value as a document with an integer `revision`, or BadDocument."""
    if value is None:
        raise BadDocument("no value (a tombstone is never published for a projection)")
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadDocument(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadDocument("not a JSON object")
    revision = doc.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise BadDocument(f"revision is not an integer: {revision!r}")
    version = doc.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise NewerSchema(
            f"a document of schema_version {version} (this sink knows up to "
            f"{SCHEMA_VERSION}): upgrade the sink"
        )
    return doc


def _typed(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.sql_type == "text" and not isinstance(value, str):
        # another type than the contract says: keep it readable rather than fail the row
        return orjson.dumps(value).decode()
    if column.sql_type in ("bigint", "integer", "timestamptz") and (
        not isinstance(value, int) or isinstance(value, bool)
    ):
        return None
    if column.sql_type == "boolean" and not isinstance(value, bool):
        return None
    return value


def document_row(table: Table, key: str, doc: Mapping[str, Any], text: str) -> Row:
    """The row of one document; `text` is the document's JSON as received."""
    typed = [_typed(c, doc.get(c.field)) for c in table.columns]
    version = doc.get("schema_version")
    return (
        key,
        *typed,
        doc["revision"],
        version if isinstance(version, int) and not isinstance(version, bool) else None,
        text,
    )
