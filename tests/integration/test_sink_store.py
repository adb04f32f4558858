"""The sink's store against a real PostgreSQL server started by the test session."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import orjson
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.sink_documents import agent_doc, as_bytes, task_doc
from wxcc_stream.devtools.postgres import LocalPostgres
from wxcc_stream.sink.batch import Incoming, Staged, stage
from wxcc_stream.sink.migrations import LEDGER, MIGRATIONS
from wxcc_stream.sink.rows import Projection
from wxcc_stream.sink.store import DatabaseUnavailable, Store, UnwritableBatch, migrate

AGENT = Projection.AGENT
TASK = Projection.TASK


def _agents(dsn: str) -> dict[str, tuple[int, dict[str, object]]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT agent_id, revision, doc FROM agent_state").fetchall()
    return {key: (revision, doc) for key, revision, doc in rows}


async def test_migrations_apply_once_and_are_recorded(postgres_dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        assert await migrate(conn) == MIGRATIONS
        assert await migrate(conn) == ()
        cursor = await conn.execute(f"SELECT version FROM {LEDGER}")
        assert [r[0] for r in await cursor.fetchall()] == [m.version for m in MIGRATIONS]


async def test_an_older_revision_never_overwrites_a_newer_one(postgres_dsn: str) -> None:
    store = Store(postgres_dsn)
    try:
        newer = agent_doc("a1", 5, state="available")
        older = agent_doc("a1", 3, state="idle")
        changed = await store.write(stage([Incoming(AGENT, b"a1", as_bytes(newer))]))
        assert changed[AGENT] == 1
        # a later batch with the older document (a replay, an out-of-order copy)
        changed = await store.write(stage([Incoming(AGENT, b"a1", as_bytes(older))]))
        assert changed[AGENT] == 0
        # the same revision again (a redo after a crash) changes nothing either
        changed = await store.write(stage([Incoming(AGENT, b"a1", as_bytes(newer))]))
        assert changed[AGENT] == 0
        assert _agents(postgres_dsn) == {"a1": (5, newer)}
        newest = agent_doc("a1", 6, state="connected")
        await store.write(stage([Incoming(AGENT, b"a1", as_bytes(newest))]))
        assert _agents(postgres_dsn) == {"a1": (6, newest)}
    finally:
        await store.close()


async def test_typed_columns_hold_times_and_figures(postgres_dsn: str) -> None:
    doc = task_doc(
        "t1", 4, status="ended", queue_id="q1", new_time=1_700_000_000_123,
        connect_time=1_700_000_002_000, connected_time=1_700_000_003_000,
        ended_time=1_700_000_060_999, hold_ms=500,
    )  # fmt: skip
    store = Store(postgres_dsn)
    try:
        await store.write(stage([Incoming(TASK, b"t1", orjson.dumps(doc))]))
    finally:
        await store.close()
    with psycopg.connect(postgres_dsn) as conn:
        row = conn.execute(
            "SELECT new_time, ended_time, queue_wait_ms, talk_ms, status, queue_id, doc "
            "FROM task_lifecycle WHERE task_id = 't1'"
        ).fetchone()
    assert row is not None
    utc = dt.UTC
    assert row[0] == dt.datetime(2023, 11, 14, 22, 13, 20, 123_000, tzinfo=utc)
    assert row[1] == dt.datetime.fromtimestamp(1_700_000_060.999, utc)
    assert row[2:6] == (1877, 1_700_000_060_999 - 1_700_000_003_000 - 500, "ended", "q1")
    assert row[6] == doc


async def test_a_reconnect_after_the_server_dropped_the_session(postgres_dsn: str) -> None:
    store = Store(postgres_dsn)
    try:
        await store.write(stage([Incoming(AGENT, b"a1", as_bytes(agent_doc("a1", 1)))]))
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        # the first write after the drop fails (the consumer retries it) and reconnects
        with pytest.raises(DatabaseUnavailable):
            await store.write(stage([Incoming(AGENT, b"a1", as_bytes(agent_doc("a1", 2)))]))
        await store.write(stage([Incoming(AGENT, b"a1", as_bytes(agent_doc("a1", 2)))]))
        assert _agents(postgres_dsn)["a1"][0] == 2
    finally:
        await store.close()


async def test_a_value_the_database_refuses_stops_the_batch_whole(postgres_dsn: str) -> None:
    """jsonb refuses a NUL character: the batch is rolled back whole, not half-written."""
    store = Store(postgres_dsn)
    try:
        await store.write(stage([Incoming(AGENT, b"a0", as_bytes(agent_doc("a0", 1)))]))
        batch = [
            Incoming(AGENT, b"a1", as_bytes(agent_doc("a1", 1))),
            Incoming(AGENT, b"a2", as_bytes(agent_doc("a2", 1, destination="x\x00y"))),
        ]
        with pytest.raises(UnwritableBatch, match="refused"):
            await store.write(stage(batch))
        assert set(_agents(postgres_dsn)) == {"a0"}
    finally:
        await store.close()


Revisions = st.lists(st.tuples(st.sampled_from(["a1", "a2", "a3"]), st.integers(1, 9)), max_size=30)


@given(Revisions, st.lists(st.integers(1, 8), max_size=10), st.randoms(use_true_random=False))
@settings(max_examples=25)
def test_any_batching_of_any_order_ends_with_the_highest_revision(
    postgres_server: LocalPostgres, docs: list[tuple[str, int]], cuts: list[int], random: Any
) -> None:
    """Documents delivered in any order, duplicated, cut into any batches: each row ends
    at its key's highest revision, whatever came before or after it."""
    random.shuffle(docs)
    batches, rest = [], list(docs)
    for cut in cuts:
        batches.append(rest[:cut])
        rest = rest[cut:]
    batches.append(rest)
    dsn = postgres_server.dsn()

    async def deliver() -> None:
        store = Store(dsn)
        try:
            await store.open()
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("TRUNCATE agent_state")
            for batch in batches:
                records = [Incoming(AGENT, k.encode(), as_bytes(agent_doc(k, r))) for k, r in batch]
                await store.write(stage(records))
        finally:
            await store.close()

    asyncio.run(deliver())
    want: dict[str, int] = {}
    for key, revision in docs:
        want[key] = max(revision, want.get(key, 0))
    assert {k: revision for k, (revision, _) in _agents(dsn).items()} == want


async def test_a_switch_replaces_the_table_in_one_transaction(postgres_dsn: str) -> None:
    """Readers see the old generation's rows until the switch commits, then only the new
    generation's, its lower revisions included; a second switch to it is a no-op."""
    store = Store(postgres_dsn)
    try:
        old = agent_doc("a1", 9, state="available")
        await store.write(stage([Incoming(AGENT, b"a1", as_bytes(old))]))
        assert await store.generations() == {AGENT: 1, TASK: 1}
        replayed = [agent_doc("a1", 2, state="idle"), agent_doc("a1", 3), agent_doc("a2", 1)]
        seen_meanwhile: list[dict[str, tuple[int, dict[str, object]]]] = []

        async def batches() -> AsyncIterator[Staged]:
            for doc in replayed:  # one batch each: the same key across batches
                yield stage([Incoming(AGENT, doc["agentId"].encode(), as_bytes(doc))])
                seen_meanwhile.append(await asyncio.to_thread(_agents, postgres_dsn))

        assert await store.switch(AGENT, 2, batches()) == 3
        assert seen_meanwhile == [{"a1": (9, old)}] * 3
        assert _agents(postgres_dsn) == {"a1": (3, replayed[1]), "a2": (1, replayed[2])}
        assert await store.generations() == {AGENT: 2, TASK: 1}

        async def never() -> AsyncIterator[Staged]:
            raise AssertionError("read although the table already holds generation 2")
            yield  # pragma: no cover

        assert await store.switch(AGENT, 2, never()) is None
    finally:
        await store.close()
