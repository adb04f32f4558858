"""The SQL of a batch write: a session-private stage table per projection table, filled
by COPY, then merged with a revision guard (a row only ever moves to a higher revision)."""

from __future__ import annotations

from wxcc_stream.sink.rows import Column, Table, row_columns


def stage_name(table: Table) -> str:
    return f"sink_stage_{table.name}"


def _stage_type(column: Column) -> str:
    return "bigint" if column.ms else column.sql_type


def create_stage(table: Table) -> str:
    """A temporary table shaped like the rows (times as epoch ms), emptied at each commit."""
    typed = ", ".join(f"{c.name} {_stage_type(c)}" for c in table.columns)
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS {stage_name(table)} ("
        f"{table.key} text, {typed}, revision bigint, schema_version integer, doc jsonb"
        ") ON COMMIT DELETE ROWS"
    )


def copy_stage(table: Table) -> str:
    """COPY into the stage table, columns in row order."""
    return f"COPY {stage_name(table)} ({', '.join(row_columns(table))}) FROM STDIN"


def _select(column: Column) -> str:
    if column.ms:
        # exact to the millisecond (a float division could land a microsecond off)
        return f"'epoch'::timestamptz + {column.name} * interval '1 millisecond'"
    return column.name


def merge(table: Table) -> str:
    """Upsert the staged rows; an existing row changes only for a higher revision, so
    replays, duplicates and out-of-order records can never make a row go backwards."""
    names = row_columns(table)
    values = ", ".join([table.key, *(_select(c) for c in table.columns), *names[-3:]])
    updates = ", ".join(f"{n} = excluded.{n}" for n in names[1:])
    return (
        f"INSERT INTO {table.name} AS t ({', '.join(names)}) "
        f"SELECT {values} FROM {stage_name(table)} "
        f"ON CONFLICT ({table.key}) DO UPDATE SET {updates}, synced_at = now() "
        "WHERE excluded.revision > t.revision"
    )
