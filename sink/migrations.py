"""The sink's versioned schema: an append-only list of migrations, applied in order.

Never edit an applied migration: add the next version. The database records what it
has in `sink_schema_migrations`; `pending` says what is left to apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wxcc_stream.sink.errors import MigrationError
from wxcc_stream.sink.rows import AGENT_TABLE, TASK_TABLE, Table

LEDGER = "sink_schema_migrations"
LOCK_ID = 0x77786363  # pg_advisory_xact_lock key: two sinks starting together migrate once
GENERATIONS = "sink_generations"


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema version: its number, a name, the statements that reach it."""

    version: int
    name: str
    statements: tuple[str, ...]


def _create(table: Table) -> str:
    typed = ",\n  ".join(f"{c.name} {c.sql_type}" for c in table.columns)
    return (
        f"CREATE TABLE {table.name} (\n"
        f"  {table.key} text PRIMARY KEY,\n"
        f"  {typed},\n"
        "  revision bigint NOT NULL,\n"
        "  schema_version integer,\n"
        "  doc jsonb NOT NULL,\n"
        "  synced_at timestamptz NOT NULL DEFAULT now()\n"
        # room on each page, so a row moving to a higher revision can be rewritten in place
        # (a HOT update) when its indexed columns stay the same, as they mostly do
        ") WITH (fillfactor = 70)"
    )


MIGRATIONS = (
    Migration(
        1,
        "agent_state and task_lifecycle tables",
        (
            _create(AGENT_TABLE),
            _create(TASK_TABLE),
            "CREATE INDEX agent_state_team ON agent_state (team_id, state)",
            "CREATE INDEX task_lifecycle_queue ON task_lifecycle (queue_id, new_time)",
            "CREATE INDEX task_lifecycle_ended ON task_lifecycle (ended_time)",
        ),
    ),
    Migration(
        2,
        "the topic generation each table holds",
        (
            # no row: generation 1, the live topics (what version 1's tables were filled from)
            f"CREATE TABLE {GENERATIONS} (\n"
            "  table_name text PRIMARY KEY,\n"
            "  generation integer NOT NULL CHECK (generation >= 1),\n"
            "  switched_at timestamptz NOT NULL DEFAULT now()\n"
            ")",
        ),
    ),
)


def check_sequence(migrations: Iterable[Migration]) -> None:
    """The versions are 1, 2, 3, ... with no gap or repeat."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions must be 1..n in order, got {versions}")


def pending(
    applied: Iterable[int], migrations: tuple[Migration, ...] = MIGRATIONS
) -> tuple[Migration, ...]:
    """The migrations still to apply, in order; a database ahead of this code is an error
    (an older sink must not write into a schema it does not know)."""
    check_sequence(migrations)
    done = set(applied)
    known = {m.version for m in migrations}
    unknown = sorted(done - known)
    if unknown:
        raise MigrationError(
            f"the database has schema versions {unknown} that this sink does not know: "
            "upgrade the sink"
        )
    return tuple(m for m in migrations if m.version not in done)
