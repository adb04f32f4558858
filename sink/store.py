"""The PostgreSQL side: connect, migrate, write one staged batch per transaction."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import psycopg
from psycopg.rows import TupleRow

from wxcc_stream.sink.batch import Staged
from wxcc_stream.sink.errors import SinkError
from wxcc_stream.sink.migrations import (
    GENERATIONS,
    LEDGER,
    LOCK_ID,
    MIGRATIONS,
    Migration,
    pending,
)
from wxcc_stream.sink.rows import TABLES, Projection, Row
from wxcc_stream.sink.statements import copy_stage, create_stage, merge, stage_name

log = logging.getLogger("sink.store")
TEMP_BUFFERS_MB = 64
SWITCH_LOCK_ID = 0x77786367  # two sinks seeing the same promotion: one reloads, one skips


class DatabaseUnavailable(SinkError):
    """The database could not be reached or the transaction failed on the way (retried)."""


class UnwritableBatch(SinkError):
    """The database refused a value of the batch (the sink stops; nothing is committed)."""


async def migrate(conn: psycopg.AsyncConnection[TupleRow]) -> tuple[Migration, ...]:
    """Bring the schema up to date in one transaction; the migrations applied."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {LEDGER} (version integer PRIMARY KEY, "
            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor = await conn.execute(f"SELECT version FROM {LEDGER}")
        todo = pending([row[0] for row in await cursor.fetchall()], MIGRATIONS)
        for migration in todo:
            for statement in migration.statements:
                await conn.execute(statement.encode())
            await conn.execute(
                f"INSERT INTO {LEDGER} (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            log.info("applied schema migration %d: %s", migration.version, migration.name)
    return todo


class Store:
    """One connection to the database; `write` is one transaction per batch."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg.AsyncConnection[TupleRow] | None = None

    async def open(self) -> None:
        """Connect (again), migrate, prepare this session's stage tables."""
        await self.close()
        try:
            conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
            await migrate(conn)
            # the stage tables live in session memory up to temp_buffers (8 MB by default,
            # about 6,000 documents): set before they are first used, so batches stay in it
            await conn.execute(f"SET temp_buffers = '{TEMP_BUFFERS_MB}MB'".encode())
            for table in TABLES.values():
                await conn.execute(create_stage(table).encode())
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(str(exc).strip()) from exc
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    def _connection(self) -> psycopg.AsyncConnection[TupleRow]:
        assert self._conn is not None
        return self._conn

    async def write(self, staged: Staged) -> Mapping[Projection, int]:
        """Write a batch in one transaction; rows changed per table (older revisions and
        replays change nothing)."""
        if self._conn is None:
            await self.open()
        conn = self._connection()
        changed: dict[Projection, int] = {}
        async with _database_errors(self), conn.transaction():
            for projection, rows in staged.rows.items():
                changed[projection] = await _merge(conn, projection, rows)
        return changed

    async def generations(self) -> dict[Projection, int]:
        """The topic generation each table holds (1, the live topics, unless switched)."""
        if self._conn is None:
            await self.open()
        async with _database_errors(self):
            cursor = await self._connection().execute(
                f"SELECT table_name, generation FROM {GENERATIONS}"
            )
            held = {name: generation for name, generation in await cursor.fetchall()}
        return {p: held.get(p.value, 1) for p in Projection}

    async def switch(
        self, projection: Projection, generation: int, batches: AsyncIterator[Staged]
    ) -> int | None:
        """Replace the table's rows with generation `generation`'s documents, in ONE
        transaction: readers see the old generation until the commit, then the new one
        whole, never a mix and never a row going back to an older state. The rows
        written; None when another sink switched it first (`batches` is not read then)."""
        if self._conn is None:
            await self.open()
        conn = self._connection()
        table = TABLES[projection]
        written = 0
        async with _database_errors(self), conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SWITCH_LOCK_ID,))
            cursor = await conn.execute(
                f"SELECT generation FROM {GENERATIONS} WHERE table_name = %s",
                (table.name,),
            )
            row = await cursor.fetchone()
            if (row[0] if row else 1) == generation:
                return None
            # DELETE, not TRUNCATE: readers keep reading the old rows meanwhile
            await conn.execute(f"DELETE FROM {table.name}".encode())
            async for staged in batches:
                written += await _merge(conn, projection, staged.rows.get(projection, ()))
                # the stage empties at commit only: empty it for the next batch
                await conn.execute(f"TRUNCATE {stage_name(table)}".encode())
            await conn.execute(
                f"INSERT INTO {GENERATIONS} (table_name, generation) VALUES (%s, %s) "
                "ON CONFLICT (table_name) DO UPDATE SET generation = excluded.generation, "
                "switched_at = now()",
                (table.name, generation),
            )
        return written


async def _merge(
    conn: psycopg.AsyncConnection[TupleRow], projection: Projection, rows: tuple[Row, ...]
) -> int:
    """COPY the rows into the stage table and merge them; the rows changed."""
    if not rows:
        return 0
    table = TABLES[projection]
    async with conn.cursor() as cursor:
        async with cursor.copy(copy_stage(table).encode()) as copy:
            for row in rows:
                await copy.write_row(row)
        await cursor.execute(merge(table).encode())
        return max(cursor.rowcount, 0)


@asynccontextmanager
async def _database_errors(store: Store) -> AsyncIterator[None]:
    """psycopg's errors as the sink's: a lost connection is retried (and closed), a value
    PostgreSQL refuses stops the sink."""
    try:
        yield
    except psycopg.OperationalError as exc:
        await store.close()
        raise DatabaseUnavailable(str(exc).strip()) from exc
    except psycopg.DataError as exc:
        # a value PostgreSQL refuses (a NUL character in text or jsonb): retrying the same
        # batch cannot help, and skipping it would commit past it: stop, say why
        raise UnwritableBatch(f"the database refused a value: {str(exc).strip()}") from exc
