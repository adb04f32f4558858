"""The durable spool: framing, crash recovery, ordered drain, direct mode when healthy."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.cli_runs import run_without_kafka
from wxcc_stream.base.dir_lock import lock_directory
from wxcc_stream.devtools.broker.process import free_port
from wxcc_stream.ingress.errors import PublishError, SpoolError
from wxcc_stream.ingress.memory import MemoryPublisher
from wxcc_stream.ingress.records import OutRecord
from wxcc_stream.ingress.spool import LOCK_NAME, LOG_NAME, Spool, decode_frames, encode_record

records_st = st.builds(
    OutRecord,
    topic=st.text(min_size=1, max_size=10),
    key=st.none() | st.binary(max_size=10),
    value=st.binary(max_size=100),
    headers=st.lists(st.tuples(st.text(max_size=8), st.binary(max_size=8)), max_size=3).map(tuple),
)


@given(st.lists(records_st, max_size=5))
def test_frames_round_trip(records: list[OutRecord]) -> None:
    data = b"".join(encode_record(r) for r in records)
    assert decode_frames(data) == (records, len(data))


@given(st.lists(records_st, min_size=1, max_size=4), st.data())
def test_a_torn_or_corrupt_tail_is_cut_at_the_last_whole_frame(
    records: list[OutRecord], data: st.DataObject
) -> None:
    frames = [encode_record(r) for r in records]
    whole = b"".join(frames[:-1])
    last = frames[-1]
    cut = data.draw(st.integers(min_value=0, max_value=len(last) - 1))
    assert decode_frames(whole + last[:cut]) == (records[:-1], len(whole))
    flipped = bytearray(last)
    flipped[-1] ^= 0xFF
    assert decode_frames(whole + bytes(flipped)) == (records[:-1], len(whole))


def rec(i: int) -> OutRecord:
    return OutRecord("raw", f"k{i}".encode(), f"v{i}".encode(), (("n", str(i).encode()),))


async def wait_for(predicate: object, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def append_bytes(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


def make(tmp_path: Path, inner: MemoryPublisher) -> Spool:
    depths: list[int] = []
    spool = Spool(
        tmp_path, inner, direct_timeout_s=0.2, retry_interval_s=0.05, on_depth=depths.append
    )
    return spool


async def test_healthy_kafka_means_direct_sends_and_an_empty_spool(tmp_path: Path) -> None:
    inner = MemoryPublisher()
    spool = make(tmp_path, inner)
    await spool.start()
    await spool.publish([rec(1), rec(2)])
    assert inner.records == [rec(1), rec(2)]
    assert (tmp_path / LOG_NAME).stat().st_size == 0
    assert spool.depth == 0
    await spool.stop()
    assert inner.stopped


async def test_outage_spools_then_drains_in_order(tmp_path: Path) -> None:
    inner = MemoryPublisher()
    spool = make(tmp_path, inner)
    await spool.start()
    await spool.publish([rec(0)])
    inner.failing = True
    await asyncio.gather(*(spool.publish([rec(i)]) for i in range(1, 30)))
    assert spool.spooling
    assert spool.depth == 29
    assert (tmp_path / LOG_NAME).stat().st_size > 0
    inner.failing = False
    # while the spool drains, new records queue behind it, never ahead
    await spool.publish([rec(30)])
    await wait_for(lambda: spool.depth == 0 and not spool.spooling)
    assert inner.records == [rec(i) for i in range(31)]
    assert (tmp_path / LOG_NAME).stat().st_size == 0
    await spool.stop()


async def test_a_slow_kafka_counts_as_unavailable(tmp_path: Path) -> None:
    inner = MemoryPublisher()
    spool = make(tmp_path, inner)
    await spool.start()
    inner.delay_s = 0.5
    await asyncio.wait_for(spool.publish([rec(1)]), 0.45)  # answered by the spool in time
    assert spool.depth == 1 or rec(1) in inner.records
    inner.delay_s = 0
    await wait_for(lambda: spool.depth == 0)
    assert rec(1) in inner.records
    await spool.stop()


async def test_the_spool_survives_a_restart_and_a_torn_tail(tmp_path: Path) -> None:
    down = MemoryPublisher()
    down.failing = True
    first = make(tmp_path, down)
    await first.start()
    for i in range(5):
        await first.publish([rec(i)])
    await first.stop(drain_timeout_s=0.1)
    assert down.records == []
    append_bytes(tmp_path / LOG_NAME, encode_record(rec(99))[:7])  # a crash mid-write
    up = MemoryPublisher()
    second = make(tmp_path, up)
    await second.start()
    await wait_for(lambda: second.depth == 0 and not second.spooling)
    assert up.records == [rec(i) for i in range(5)]
    await second.stop()


async def test_a_crash_after_a_drained_chunk_resends_at_most_that_chunk(tmp_path: Path) -> None:
    down = MemoryPublisher()
    down.failing = True
    first = make(tmp_path, down)
    await first.start()
    await first.publish([rec(i) for i in range(3)])
    await first.stop(drain_timeout_s=0.05)
    # nothing was acknowledged, so everything is still there for the next run
    up = MemoryPublisher()
    second = make(tmp_path, up)
    await second.start()
    await wait_for(lambda: second.depth == 0)
    assert up.records == [rec(0), rec(1), rec(2)]
    await second.stop()


async def test_an_unwritable_spool_fails_the_publish(tmp_path: Path) -> None:
    inner = MemoryPublisher()
    target = tmp_path / "file"
    target.write_text("not a directory")
    spool = make(target, inner)
    with pytest.raises(PublishError.__base__):  # IngressError: SpoolError
        await spool.start()


async def test_a_spool_directory_serves_one_ingress_at_a_time(tmp_path: Path) -> None:
    first = make(tmp_path, MemoryPublisher())
    await first.start()
    second = make(tmp_path, MemoryPublisher())
    with pytest.raises(
        SpoolError, match=rf"in use by another ingress process \(pid {os.getpid()}\)"
    ):
        await second.start()
    await second.stop()
    await first.publish([rec(1)])
    await first.stop()
    third = make(tmp_path, MemoryPublisher())
    await third.start()  # the directory is free again once its holder stopped
    await third.stop()


class Unreachable(MemoryPublisher):
    """A store that cannot be reached at start."""

    async def start(self) -> None:
        raise PublishError("unreachable")


async def test_a_failed_start_leaves_the_spool_directory_free(tmp_path: Path) -> None:
    failed = make(tmp_path, Unreachable())  # still referenced: its files are not collected
    with pytest.raises(PublishError):
        await failed.start()
    again = make(tmp_path, MemoryPublisher())
    await again.start()  # not "in use by another ingress process"
    await again.stop()
    await failed.stop()


def test_a_second_ingress_on_the_same_spool_directory_stops_with_a_message(
    tmp_path: Path,
) -> None:
    held = lock_directory(tmp_path, LOCK_NAME)
    assert held is not None
    try:
        done = run_without_kafka(
            "ingress", "--spool-dir", str(tmp_path), "--port", str(free_port())
        )
    finally:
        held.close()
    assert done.returncode == 1, done.stderr
    assert f"spool directory {tmp_path} is in use by another ingress process" in done.stderr
    assert "WXCC_INGRESS_SPOOL_DIR" in done.stderr
