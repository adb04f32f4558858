"""Documents/s of the PostgreSQL sink's write path into a local server, against a bare
COPY of the same rows in the same run. Figures are printed, never asserted: the machine's
cores are shared. Target: at least 20,000 documents/s.

The server is a throwaway one from Debian's binaries (wxcc_stream.devtools.postgres),
durable (fsync on), on this machine. Each batch is what the consumer would hand over:
records (key, JSON bytes) -> `stage` (parse, map, collapse) -> `Store.write` (COPY into
the stage table, merge with the revision guard, commit). Workloads:
- new: every document a new key (each one becomes a row; collapse cannot help);
- updates: the same keys again at a higher revision (every row is rewritten);
- replay: the same documents again (the guard leaves every row; what a redo costs).
Baseline: `COPY` of the same rows, already mapped, into a plain table with the same
columns, one transaction per batch (no parsing, no stage table, no merge, no index).
The Kafka fetch is not in these figures; `--part kafka` (bench/sink/kafka_leg.py) measures
the whole path from a real broker's topic to the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterator

import orjson
import psycopg

from bench.api.run import _task
from wxcc_stream.devtools.postgres import LocalPostgres
from wxcc_stream.sink.batch import Incoming, stage
from wxcc_stream.sink.rows import TASK_TABLE, Projection, row_columns
from wxcc_stream.sink.statements import create_stage
from wxcc_stream.sink.store import Store

Batch = list[Incoming]


def _batches(tasks: int, revision: int, size: int) -> list[Batch]:
    """Task documents at `revision`, in consumer-sized batches."""
    records: Batch = []
    for i in range(tasks):
        doc = _task(i) | {"revision": revision}
        records.append(Incoming(Projection.TASK, doc["taskId"].encode(), orjson.dumps(doc)))
    return [records[i : i + size] for i in range(0, len(records), size)]


async def _sink(store: Store, batches: list[Batch]) -> tuple[float, int]:
    started = time.perf_counter()
    changed = 0
    for batch in batches:
        done = await store.write(stage(batch))
        changed += done[Projection.TASK]
    return time.perf_counter() - started, changed


def _chunks(batches: list[Batch]) -> Iterator[list[tuple[object, ...]]]:
    for batch in batches:
        yield [row for rows in stage(batch).rows.values() for row in rows]


async def _bare_copy(dsn: str, batches: list[Batch]) -> float:
    """COPY of the mapped rows into a plain table (mapping done before the clock starts)."""
    prepared = list(_chunks(batches))
    columns = ", ".join(row_columns(TASK_TABLE))
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        # the stage table's shape (times as epoch ms), as a plain table
        shape = create_stage(TASK_TABLE).split("(", 1)[1].removesuffix(" ON COMMIT DELETE ROWS")
        await conn.execute(f"CREATE TABLE bare ({shape}".encode())
        await conn.commit()
        started = time.perf_counter()
        for rows in prepared:
            statement = f"COPY bare ({columns}) FROM STDIN".encode()
            async with conn.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    await copy.write_row(row)
            await conn.commit()
        return time.perf_counter() - started


def _line(name: str, docs: int, seconds: float, changed: int | None = None) -> float:
    rate = docs / seconds
    extra = "" if changed is None else f", rows changed {changed:,}"
    print(f"  {name:<34} {docs:>9,} docs in {seconds:6.2f} s = {rate:>9,.0f} docs/s{extra}")
    return rate


async def bench(tasks: int, batch_size: int) -> None:
    with LocalPostgres(durable=True) as server:
        dsn = server.dsn()
        new = _batches(tasks, 9, batch_size)
        updates = _batches(tasks, 10, batch_size)
        store = Store(dsn)
        await store.open()  # migrate before the clock starts
        try:
            print(f"bench.sink: {tasks:,} task documents, batches of {batch_size:,}, "
                  f"PostgreSQL in {server.root} (fsync on)")  # fmt: skip
            seconds, changed = await _sink(store, new)
            rate_new = _line("sink, new keys", tasks, seconds, changed)
            seconds, changed = await _sink(store, updates)
            rate_updates = _line("sink, higher revisions (updates)", tasks, seconds, changed)
            seconds, changed = await _sink(store, updates)
            _line("sink, replay (guard keeps rows)", tasks, seconds, changed)
        finally:
            await store.close()
        rate_bare = _line("baseline: bare COPY of the rows", tasks, await _bare_copy(dsn, new))
        slowest = min(rate_new, rate_updates)
        print(f"  sink / bare COPY: new keys {rate_new / rate_bare:.2f}, "
              f"updates {rate_updates / rate_bare:.2f}; target >= 20,000 docs/s "
              f"(slower of the two): {'met' if slowest >= 20_000 else 'NOT met'}")  # fmt: skip


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.sink", description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000, help="records per transaction")
    parser.add_argument("--part", choices=("write", "kafka", "both"), default="both")
    parser.add_argument(
        "--bootstrap", help="an existing broker for --part kafka (default: a private one)"
    )
    args = parser.parse_args()
    if args.part in ("write", "both"):
        asyncio.run(bench(args.tasks, args.batch))
    if args.part in ("kafka", "both"):
        from bench.sink.kafka_leg import kafka_leg

        asyncio.run(kafka_leg(args.tasks, args.bootstrap))
    return 0
