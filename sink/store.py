"""The PostgreSQL side: connect, migrate, write one staged batch per transaction."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import psycopg
from psycopg.rows import TupleRow

from wxcc_stream.sink.batch import Staged
from wxcc_stream.sink.errors import SinkError
from wxcc_stream.sink.migrations import LEDGER, LOCK_ID, MIGRATIONS, Migration, pending
from wxcc_stream.sink.rows import TABLES, Projection
from wxcc_stream.sink.statements import copy_stage, create_stage, merge

log = logging.getLogger("sink.store")
TEMP_BUFFERS_MB = 64


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

    async def write(self, staged: Staged) -> Mapping[Projection, int]:
        """Write a batch in one transaction; rows changed per table (older revisions and
        replays change nothing)."""
        if self._conn is None:
            await self.open()
        conn = self._conn
        assert conn is not None
        changed: dict[Projection, int] = {}
        try:
            async with conn.transaction():
                for projection, rows in staged.rows.items():
                    if not rows:
                        changed[projection] = 0
                        continue
                    table = TABLES[projection]
                    async with conn.cursor() as cursor:
                        async with cursor.copy(copy_stage(table).encode()) as copy:
                            for row in rows:
                                await copy.write_row(row)
                        await cursor.execute(merge(table).encode())
                        changed[projection] = max(cursor.rowcount, 0)
        except psycopg.OperationalError as exc:
            await self.close()
            raise DatabaseUnavailable(str(exc).strip()) from exc
        except psycopg.DataError as exc:
            # a value PostgreSQL refuses (a NUL character in text or jsonb): retrying the
            # same batch cannot help, and skipping it would commit past it: stop, say why
            raise UnwritableBatch(f"the database refused a value: {str(exc).strip()}") from exc
        return changed
