"""The history stored append-only in chunks (core/chunks.py, storage/log_value.py): a table
that only ever receives each step's writes always reads back as the log, holds no chunk the
head does not name, and a step writes about the same bytes however long the history. A head
longer than `PIECE_BYTES` is stored in pieces the same way: written before the pointer to
them, the previous pieces deleted after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.event_builders import AGENT, agent_event
from tests.unit.log_store import stored
from wxcc_stream.processors.core.held import Held
from wxcc_stream.processors.core.history import CHUNK_SIZE, History
from wxcc_stream.processors.core.log import EntityLog, new_log
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.step import accept_many, drain, release_due
from wxcc_stream.processors.storage import log_value
from wxcc_stream.processors.storage.log_value import (
    LogDecodeError,
    chunk_key,
    decode_log,
    log_writes,
    piece_key,
    stored_pieces,
)
from wxcc_stream.schemas.event import EntityKind, Event

KEY = AGENT.encode()
CHUNK_PREFIX = b"\x00log/" + KEY + b"/"
PIECE_PREFIX = b"\x00head/" + KEY + b"/"
POLICY = Policy(grace_ms=0, flush_timeout_ms=1, horizon_ms=10**9)


def state(n: int, t: int) -> Event:
    return agent_event("agent:state_change", t, f"e{n:04d}", currentState=f"s{n % 3}")


class Table:
    """A table that only receives what each step writes, in order."""

    def __init__(self) -> None:
        self.values: dict[bytes, bytes] = {}
        self.applied: list[list[tuple[bytes, bytes | None]]] = []

    def write(self, log: EntityLog) -> None:
        writes = log_writes(KEY, log, previous=self.values.get(KEY))
        self.applied.append(writes)
        self.apply(writes)

    def apply(self, writes: list[tuple[bytes, bytes | None]]) -> None:
        for key, value in writes:
            if value is None:
                self.values.pop(key, None)
            else:
                self.values[key] = value

    def read(self) -> EntityLog:
        return decode_log(self.values[KEY], self.values.get)

    def chunk_keys(self) -> set[bytes]:
        return {k for k in self.values if k.startswith(CHUNK_PREFIX)}

    def piece_keys(self) -> set[bytes]:
        """The pieces the table holds; each named by the head's pointer (none are left over)."""
        held = {k for k in self.values if k.startswith(PIECE_PREFIX)}
        pieces = stored_pieces(self.values.get(KEY))
        named = (
            set() if pieces is None else {piece_key(KEY, pieces[0], n) for n in range(pieces[1])}
        )
        assert held == named
        return held


@contextmanager
def pieces_of(size: int | None) -> Iterator[None]:
    """Heads longer than `size` bytes stored in pieces (None: the real size)."""
    if size is None:
        yield
        return
    with mock.patch.object(log_value, "PIECE_BYTES", size):
        yield


def named(log: EntityLog) -> set[bytes]:
    return {chunk_key(KEY, c.seq) for c in log.chunks}


def run(steps: list[list[Event]], policy: Policy, tick: bool) -> tuple[EntityLog, Table]:
    log, table = new_log(EntityKind.AGENT, AGENT), Table()
    now = 0
    for events in steps:
        now += 10
        after, _ = accept_many(log, events, now_ms=now, policy=policy)
        if after is not log:
            table.write(after)
            log = after
            assert table.read() == log
            assert table.chunk_keys() == named(log)
            table.piece_keys()
        if tick:
            after, _ = release_due(log, now_ms=now + 10**10, policy=policy)
            if after is not log:
                table.write(after)
                log = after
    return log, table


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    times=st.lists(st.integers(0, 400), min_size=1, max_size=120),
    cut=st.lists(st.integers(1, 9), min_size=1, max_size=40),
    duplicates=st.lists(st.integers(0, 119), max_size=20),
    horizon=st.sampled_from([50, 200, 10**9]),
    tick=st.booleans(),
    piece=st.sampled_from([None, 300, 2_000]),
)
def test_each_steps_writes_keep_the_table_equal_to_the_log(
    times: list[int],
    cut: list[int],
    duplicates: list[int],
    horizon: int,
    tick: bool,
    piece: int | None,
) -> None:
    events = [state(n, t) for n, t in enumerate(times)]
    events += [events[i] for i in duplicates if i < len(events)]  # redeliveries, same id
    steps, i = [], 0
    while i < len(events):
        size = cut[len(steps) % len(cut)]
        steps.append(events[i : i + size])
        i += size
    policy = Policy(grace_ms=0, flush_timeout_ms=1, horizon_ms=horizon)
    with pieces_of(piece):
        log, table = run(steps, policy, tick)
        drained, _ = drain(log, policy=policy)
        if drained is not log:
            table.write(drained)
        assert table.read() == drained
        assert table.chunk_keys() == named(drained)
        table.piece_keys()


def long_log(length: int) -> tuple[EntityLog, Table]:
    return run([[state(n, n * 10)] for n in range(length)], POLICY, tick=False)


def test_a_step_writes_the_same_bytes_however_long_the_history() -> None:
    sizes = {}
    for length in (40, 400):
        log, table = long_log(length)
        # over the last CHUNK_SIZE steps: one of them seals a chunk
        recent = table.applied[-CHUNK_SIZE:]
        sizes[length] = sum(len(v or b"") for writes in recent for _, v in writes)
        assert len(log.history) == length
        assert len(log.history) - log.sealed < CHUNK_SIZE
    # what grows is the head's list of chunks, ~25 B per chunk of 16 events (rows: ~100 B
    # each here, ~300 B in a real feed); the whole history is 10x longer
    assert sizes[400] < 1.5 * sizes[40]


def test_a_late_event_in_a_sealed_chunk_stores_it_again_under_a_new_number() -> None:
    log, table = long_log(3 * CHUNK_SIZE)
    first = log.chunks[0]
    late = agent_event("agent:state_change", 15, "late", currentState="idle")  # after e0001
    after, out = accept_many(log, [late], now_ms=10**6, policy=POLICY)
    assert out.late == (late,)
    table.write(after)
    keys = [k for k, _ in table.applied[-1]]
    # the new chunk first, the head next, the old chunk's deletion last
    assert keys == [chunk_key(KEY, after.chunks[0].seq), KEY, chunk_key(KEY, first.seq)]
    assert after.chunks[0].size == first.size + 1
    assert after.chunks[1:] == log.chunks[1:]
    assert table.read() == after


def test_pruned_rows_are_skipped_and_a_chunk_is_dropped_once_all_of_it_is_pruned() -> None:
    policy = Policy(grace_ms=0, flush_timeout_ms=1, horizon_ms=CHUNK_SIZE * 10 + 5)
    log, table = run([[state(n, n * 10)] for n in range(4 * CHUNK_SIZE)], policy, tick=False)
    assert log.chunks[0].skip > 0 or log.chunks[0].seq > 0
    assert min(c.seq for c in log.chunks) > 0  # the oldest chunks are gone
    assert table.chunk_keys() == named(log)
    assert table.read() == log


def test_a_compacted_log_drops_every_chunk() -> None:
    log, table = long_log(3 * CHUNK_SIZE)
    ended = agent_event("agent:logout", 10**4, "out")
    log, _ = accept_many(log, [ended], now_ms=10**5, policy=POLICY)
    table.write(log)
    log, out = release_due(log, now_ms=10**13, policy=POLICY)
    assert out.compacted
    table.write(log)
    assert table.chunk_keys() == set()
    assert log.chunks == []
    assert table.read() == log


def test_a_replayed_batch_stores_again_the_chunks_it_sealed() -> None:
    # a crash after the local store took a batch's writes but before the changelog did:
    # the records come again and are duplicates; the changelog must get the chunks too
    log, _table = long_log(CHUNK_SIZE - 1)
    last = state(CHUNK_SIZE - 1, (CHUNK_SIZE - 1) * 10)
    sealed, _ = accept_many(log, [last], now_ms=5_000, policy=POLICY)
    assert sealed.unsaved == {sealed.chunks[0].seq}
    again, out = accept_many(sealed, [last], now_ms=6_000, policy=POLICY)
    assert len(out.duplicates) == 1
    assert again.unsaved
    assert again.chunks[0].seq not in sealed.unsaved
    rewritten = dict(log_writes(KEY, again))
    assert rewritten[chunk_key(KEY, again.chunks[0].seq)] is not None
    # a duplicate of an event taken after every chunk was sealed stores no chunk again
    newer = state(CHUNK_SIZE, CHUNK_SIZE * 10)
    later, _ = accept_many(again, [newer], now_ms=7_000, policy=POLICY)
    quiet, out = accept_many(later, [newer], now_ms=8_000, policy=POLICY)
    assert len(out.duplicates) == 1
    assert quiet.unsaved == frozenset()
    assert quiet.chunks == later.chunks


def test_a_missing_chunk_is_a_clear_error() -> None:
    log, table = long_log(2 * CHUNK_SIZE)
    del table.values[chunk_key(KEY, log.chunks[0].seq)]
    with pytest.raises(LogDecodeError, match="chunk 0 of 'agent-1' is missing"):
        table.read()


def test_a_head_with_chunks_needs_a_way_to_read_them() -> None:
    _log, table = long_log(2 * CHUNK_SIZE)
    with pytest.raises(LogDecodeError, match="no way to read them"):
        decode_log(table.values[KEY])
    assert orjson.loads(table.values[KEY])["format"] == 3


def held(n: int) -> Held:
    return Held((n, 0, f"id{n}", "s"), n, b"[%d]" % n, ("s", None))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("aiprds"), st.integers(0, 10**6)), min_size=1, max_size=200)
)
def test_a_history_behaves_as_the_list_it_stands_for(ops: list[tuple[str, int]]) -> None:
    model: list[Held] = []
    history = History()
    for n, (op, r) in enumerate(ops):
        history = history.copy()  # every step starts from a copy, as Working does
        if op == "a":
            model.append(held(n))
            history.append(held(n))
        elif op == "i":
            at = r % (len(model) + 1)
            model.insert(at, held(n))
            history.insert(at, held(n), now_ms=n)
        elif op == "r" and model:
            at = r % len(model)
            del model[at]
            history.remove(at, now_ms=n)
        elif op == "p" and model:
            count = r % (len(model) + 1)
            assert history.oldest(count) == model[:count]
            del model[:count]
            history.drop_oldest(count)
        elif op == "d":
            model.clear()
            history.clear()
        # "s": a replayed record seen again, so chunks sealed since `r` are stored again
        history.seal(now_ms=n, restore_since=r % (n + 1) if op == "s" else None)
        # the head's chunk layout, kept between steps, is that of the chunks as they are now
        assert orjson.loads(history.layout()) == list(chain.from_iterable(history.chunks))
        assert list(history) == model
        assert len(history) == len(model)
        assert [history[i] for i in range(len(model))] == model
        if model:
            start = r % len(model)
            assert list(history.range(start, len(model))) == model[start:]
            assert history.last() == model[-1]
        assert len(history.tail) < CHUNK_SIZE
        assert [len(run) for run in history.runs] == [c.size - c.skip for c in history.chunks]


def test_a_dropped_twin_is_kept_through_the_table_and_forgotten_with_the_horizon() -> None:
    first = agent_event("agent:state_change", 100, "a", currentState="idle")
    twin = agent_event("agent:state_change", 100, "b", currentState="idle")
    twin_again = agent_event("agent:state_change", 100, "b", currentState="available")
    log, out = accept_many(new_log(EntityKind.AGENT, AGENT), [first, twin], now_ms=10,
                           policy=POLICY)  # fmt: skip
    assert [d.event.ce_id for d in out.duplicates] == ["b"]
    assert set(log.twins) == {(twin.ce_source, "b")}
    back = stored(log)
    assert dict(back.twins) == dict(log.twins)
    _, out = accept_many(back, [twin_again], now_ms=20, policy=POLICY)
    assert [c.rejected for c in out.conflicts] == [twin_again]
    short = Policy(grace_ms=0, flush_timeout_ms=1, horizon_ms=50)
    later = agent_event("agent:state_change", 1_000, "z", currentState="available")
    pruned, _ = accept_many(back, [later], now_ms=30, policy=short)
    assert not pruned.twins


def burst(n: int) -> list[Event]:
    """`n` events inside the grace: all of them buffered in the head."""
    return [state(i, 10 + i) for i in range(n)]


HOLDING = Policy(grace_ms=10**6, flush_timeout_ms=10**6, horizon_ms=10**9)


def test_a_head_over_the_piece_size_is_written_in_pieces_before_its_pointer() -> None:
    table = Table()
    with pieces_of(2_500):
        log, _ = accept_many(new_log(EntityKind.AGENT, AGENT), burst(100), now_ms=1, policy=HOLDING)
        table.write(log)
        first = table.applied[-1]
        pieces = stored_pieces(table.values[KEY])
        assert pieces is not None
        assert pieces[0] == 0
        assert pieces[1] >= 3
        assert [k for k, _ in first] == [*(piece_key(KEY, 0, n) for n in range(pieces[1])), KEY]
        assert all(len(v or b"") <= 2_500 for _, v in first)
        assert orjson.loads(table.values[KEY]) == {
            "format": 4, "entityId": AGENT, "pieces": [0, pieces[1]]
        }  # fmt: skip
        assert table.read() == log

        more, _ = accept_many(log, [state(99, 99)], now_ms=2, policy=HOLDING)
        table.write(more)
        # a new generation of pieces, the pointer, then the old generation's deletions
        keys = [k for k, v in table.applied[-1] if v is not None]
        deleted = [k for k, v in table.applied[-1] if v is None]
        assert keys[-1] == KEY
        assert all(k.startswith(PIECE_PREFIX + b"1/") for k in keys[:-1])
        assert deleted == [piece_key(KEY, 0, n) for n in range(pieces[1])]
        assert table.read() == more
        table.piece_keys()

        released, _ = drain(more, policy=HOLDING)
        table.write(released)
        # short again: one value, and no piece left
        assert orjson.loads(table.values[KEY])["format"] == 3
        assert table.piece_keys() == set()
        assert table.read() == released


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 40), min_size=2, max_size=6),
    piece=st.sampled_from([200, 700, 5_000]),
    data=st.data(),
)
def test_a_crash_between_a_steps_writes_reads_back_the_log_before_or_after_it(
    sizes: list[int], piece: int, data: st.DataObject
) -> None:
    # a SIGKILL can leave any prefix of one step's writes in the changelog
    policy = Policy(grace_ms=50, flush_timeout_ms=10**6, horizon_ms=10**9)
    table, log = Table(), new_log(EntityKind.AGENT, AGENT)
    start = 0
    with pieces_of(piece):
        for size in sizes:
            events = [state(start + i, (start + i) * 7) for i in range(size)]
            start += size
            after, _ = accept_many(log, events, now_ms=start, policy=policy)
            writes = log_writes(KEY, after, previous=table.values.get(KEY))
            cut = data.draw(st.integers(0, len(writes)), label="cut")
            crashed = Table()
            crashed.values = dict(table.values)
            crashed.apply(writes[:cut])
            assert crashed.read() in (log, after) if log.history or log.buffer else True
            table.apply(writes)
            log = after
            assert table.read() == log
            table.piece_keys()
