"""Optional durable local spool: when Kafka is away, records are appended + fsynced here
(so the sender may get its 2xx) and drained to Kafka, in order, once it is back.

While the spool holds anything, new records are appended behind it rather than sent
directly, so the drain keeps arrival order. Delivery is at least once: a record whose
direct send timed out may reach Kafka both directly and from the spool, and a crash
between a drained chunk and its saved position re-sends that chunk; the processors
dedupe by CloudEvent id.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, TextIO, TypeVar

from wxcc_stream.base.dir_lock import holder_of, lock_directory
from wxcc_stream.ingress.errors import PublishError, SpoolError
from wxcc_stream.ingress.publisher import RawPublisher
from wxcc_stream.ingress.records import OutRecord

log = logging.getLogger(__name__)
_T = TypeVar("_T")

_FRAME = struct.Struct(">II")  # payload length, crc32 of the payload
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")
LOG_NAME = "spool.log"
POS_NAME = "spool.pos"
LOCK_NAME = "spool.lock"


# --- framing (pure) --------------------------------------------------------------------------


def encode_record(record: OutRecord) -> bytes:
    """One record as a checksummed frame."""
    topic = record.topic.encode()
    parts = [_U16.pack(len(topic)), topic]
    if record.key is None:
        parts.append(_I32.pack(-1))
    else:
        parts += [_I32.pack(len(record.key)), record.key]
    parts += [_U32.pack(len(record.value)), record.value, _U16.pack(len(record.headers))]
    for name, value in record.headers:
        raw_name = name.encode()
        parts += [_U16.pack(len(raw_name)), raw_name, _U32.pack(len(value)), value]
    payload = b"".join(parts)
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def _decode_payload(payload: bytes) -> OutRecord:
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(payload):
            raise ValueError("truncated payload")
        chunk = payload[pos : pos + n]
        pos += n
        return chunk

    topic = take(_U16.unpack(take(2))[0]).decode()
    key_len = _I32.unpack(take(4))[0]
    key = None if key_len < 0 else take(key_len)
    value = take(_U32.unpack(take(4))[0])
    headers = []
    for _ in range(_U16.unpack(take(2))[0]):
        name = take(_U16.unpack(take(2))[0]).decode()
        headers.append((name, take(_U32.unpack(take(4))[0])))
    return OutRecord(topic, key, value, tuple(headers))


def decode_frames(data: bytes, *, limit: int | None = None) -> tuple[list[OutRecord], int]:
    """Whole, intact frames from the start of `data` (at most `limit`); bytes consumed.

    Stops at the first torn or corrupt frame: what follows a crash mid-write.
    """
    records: list[OutRecord] = []
    pos = 0
    while pos + _FRAME.size <= len(data) and (limit is None or len(records) < limit):
        length, crc = _FRAME.unpack_from(data, pos)
        end = pos + _FRAME.size + length
        if end > len(data):
            break
        payload = data[pos + _FRAME.size : end]
        if zlib.crc32(payload) != crc:
            break
        try:
            records.append(_decode_payload(payload))
        except (ValueError, UnicodeDecodeError):
            break
        pos = end
    return records, pos


# --- the spool ---------------------------------------------------------------------------


class Spool:
    """A `RawPublisher` in front of another: direct when it answers, spooled otherwise."""

    def __init__(
        self,
        directory: Path,
        inner: RawPublisher,
        *,
        direct_timeout_s: float,
        retry_interval_s: float = 1.0,
        chunk_records: int = 500,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self._dir = directory
        self._inner = inner
        self._direct_timeout_s = direct_timeout_s
        self._retry_interval_s = retry_interval_s
        self._chunk_records = chunk_records
        self._on_depth = on_depth or (lambda depth: None)
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-io")
        self._log: BinaryIO | None = None
        self._dir_lock: TextIO | None = None
        self._read_pos = 0  # first byte not yet in Kafka
        self._end = 0  # end of what is durably written
        self._depth = 0
        self._spooling = False
        self._pending: list[tuple[bytes, int, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._closing = False

    @property
    def depth(self) -> int:
        """Records spooled and not yet in Kafka."""
        return self._depth

    @property
    def spooling(self) -> bool:
        return self._spooling

    # -- blocking file work, always on the spool's own thread --

    def _open_sync(self) -> tuple[int, int, int]:
        self._dir_lock = lock_directory(self._dir, LOCK_NAME)
        if self._dir_lock is None:
            raise SpoolError(
                f"spool directory {self._dir} is in use by another ingress process "
                f"(pid {holder_of(self._dir, LOCK_NAME)}): give each ingress process its own "
                "WXCC_INGRESS_SPOOL_DIR (--spool-dir)"
            )
        log_path = self._dir / LOG_NAME
        pos_path = self._dir / POS_NAME
        self._log = open(log_path, "a+b")  # noqa: SIM115 (kept open for the spool's life)
        read_pos = 0
        if pos_path.exists():
            text = pos_path.read_text().strip()
            read_pos = int(text) if text.isdigit() else 0
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        read_pos = min(read_pos, size)
        self._log.seek(read_pos)
        records, used = decode_frames(self._log.read())
        end = read_pos + used
        if end < size:
            log.warning(
                "spool: dropping a torn tail after a crash",
                extra={"spool_bytes_dropped": size - end},
            )
            self._log.truncate(end)
            os.fsync(self._log.fileno())
        return read_pos, end, len(records)

    def _close_sync(self) -> None:
        """Close the log, then give the directory up to the next ingress."""
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._dir_lock is not None:
            self._dir_lock.close()
            self._dir_lock = None

    def _append_sync(self, data: bytes) -> None:
        assert self._log is not None
        self._log.seek(0, os.SEEK_END)
        self._log.write(data)
        self._log.flush()
        os.fsync(self._log.fileno())

    def _read_sync(self, start: int, end: int) -> tuple[list[OutRecord], int]:
        assert self._log is not None
        self._log.seek(start)
        # read enough for a chunk, but never past what is durably written
        data = self._log.read(min(end - start, 8 * 1024 * 1024))
        records, used = decode_frames(data, limit=self._chunk_records)
        if not records and data:
            # a single frame bigger than the read window
            data = self._log.read(end - start - len(data))
            records, used = decode_frames(data, limit=self._chunk_records)
        return records, start + used

    def _save_pos_sync(self, pos: int) -> None:
        tmp = self._dir / (POS_NAME + ".tmp")
        with open(tmp, "w") as f:
            f.write(str(pos))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._dir / POS_NAME)

    def _reset_sync(self) -> None:
        assert self._log is not None
        self._log.truncate(0)
        os.fsync(self._log.fileno())
        self._save_pos_sync(0)

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._io, fn, *args)
        except OSError as err:
            raise SpoolError(f"spool at {self._dir}: {err}") from err

    # -- lifecycle --

    async def start(self) -> None:
        """Start the inner publisher, recover the spool left by a previous run, drain it."""
        loop = asyncio.get_running_loop()
        try:
            try:
                read_pos, end, depth = await loop.run_in_executor(self._io, self._open_sync)
            except OSError as err:
                raise SpoolError(f"cannot open spool at {self._dir}: {err}") from err
            self._read_pos, self._end = read_pos, end
            self._set_depth(depth)
            if depth:
                log.warning("spool: %d records from a previous run wait for Kafka", depth)
                self._spooling = True
            await self._inner.start()
        except BaseException:
            # a failed start holds nothing: the directory is free for the next try
            await loop.run_in_executor(self._io, self._close_sync)
            raise
        self._drainer = asyncio.create_task(self._drain_loop(), name="spool-drain")
        self._wake.set()

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Write what is pending, try to drain for a while, then stop the inner publisher."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        if self._drainer is not None:
            self._closing = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._drainer), drain_timeout_s)
            except TimeoutError:
                log.warning("spool: %d records left for the next start", self._depth)
            # Python 3.11's wait_for can swallow a cancel that lands as the inner call
            # finishes (the failing publish in the drain loop), so cancel until it is done.
            while not self._drainer.done():
                self._drainer.cancel()
                await asyncio.wait({self._drainer}, timeout=0.1)
            await asyncio.gather(self._drainer, return_exceptions=True)
        await self._inner.stop()
        await asyncio.get_running_loop().run_in_executor(self._io, self._close_sync)
        self._io.shutdown(wait=True)

    async def ready(self) -> bool:
        return await self._inner.ready()

    # -- publishing --

    async def publish(self, records: Sequence[OutRecord]) -> None:
        """Send directly when nothing waits in the spool; else (or on failure) spool."""
        if not self._spooling:
            try:
                await asyncio.wait_for(self._inner.publish(records), self._direct_timeout_s)
                return
            except (PublishError, TimeoutError) as err:
                if not self._spooling:
                    log.warning("spool: Kafka unavailable (%s); spooling to disk", err or "timeout")
                self._spooling = True
        await self._append(records)

    async def _append(self, records: Sequence[OutRecord]) -> None:
        data = b"".join(encode_record(r) for r in records)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((data, len(records), fut))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="spool-write")
        await fut

    async def _write_loop(self) -> None:
        """Group commit: every append waiting meanwhile shares one write and one fsync."""
        while self._pending:
            async with self._lock:
                # taken under the lock, so the drainer never sees "nothing pending" while
                # a batch is on its way to the file
                batch, self._pending = self._pending, []
                try:
                    await self._run(self._append_sync, b"".join(d for d, _, _ in batch))
                except SpoolError as err:
                    for _, _, fut in batch:
                        if not fut.done():
                            fut.set_exception(err)
                    continue
                self._end += sum(len(d) for d, _, _ in batch)
                self._set_depth(self._depth + sum(n for _, n, _ in batch))
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_result(None)
            self._wake.set()

    def _set_depth(self, depth: int) -> None:
        self._depth = depth
        self._on_depth(depth)

    # -- draining --

    async def _drain_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                outcome = await self._drain_once()
            except SpoolError as err:
                log.error("spool: %s", err)
                outcome = None
            if self._closing and (outcome is True or self._depth == 0):
                return
            if outcome is None:  # Kafka (or the disk) failed: try again in a while
                await asyncio.sleep(self._retry_interval_s)
                self._wake.set()
            # False: more was appended meanwhile; the writer wakes us when it is on disk

    async def _drain_once(self) -> bool | None:
        """Publish spooled records in order: True when the spool is empty afterwards,
        False when more records are on their way to it, None when Kafka failed."""
        while self._read_pos < self._end:
            records, next_pos = await self._run(self._read_sync, self._read_pos, self._end)
            if not records:
                raise SpoolError(f"unreadable spool data at byte {self._read_pos}")
            try:
                await asyncio.wait_for(self._inner.publish(records), 30.0)
            except (PublishError, TimeoutError):
                return None
            await self._run(self._save_pos_sync, next_pos)
            self._read_pos = next_pos
            self._set_depth(max(0, self._depth - len(records)))
            log.info("spool: drained %d records, %d left", len(records), self._depth)
        async with self._lock:
            if self._read_pos < self._end or self._pending:
                return False
            if self._end > 0:
                await self._run(self._reset_sync)
                self._read_pos = self._end = 0
                self._set_depth(0)
            if self._pending:  # appended while the file was being reset
                return False
            if self._spooling:
                log.info("spool: empty, sending directly again")
            self._spooling = False
            return True
