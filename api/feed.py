"""Feeds of projection records into the view and the change log.

`Feed` is the part every feed shares: it folds records into the view, records the
changes, and wakes the stream's subscribers. `KafkaFeed` reads both compacted projection
topics from the beginning, then live; `MemoryFeed` is fed by hand (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from wxcc_stream.api.changes import ChangeLog
from wxcc_stream.api.entries import Kind
from wxcc_stream.api.errors import BadDocument
from wxcc_stream.api.metrics import ApiMetrics
from wxcc_stream.api.view import View

log = logging.getLogger("api.feed")


@dataclass(frozen=True, slots=True)
class Record:
    """One projection record as read from Kafka."""

    kind: Kind
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None


class Feed:
    """The view, its change log, and the wake-up of the stream's subscribers."""

    def __init__(self, metrics: ApiMetrics, change_log_size: int) -> None:
        self.metrics = metrics
        self.view = View()
        self.change_log_size = change_log_size
        self.log: ChangeLog | None = None  # once the partitions are known
        self.caught_up = False
        self.newest_event_time: int | None = None
        self.last_change_ms: int | None = None
        self._changed = asyncio.Event()

    def open_log(self, partitions: Mapping[Kind, int]) -> ChangeLog:
        self.log = ChangeLog(self.change_log_size, partitions)
        return self.log

    def apply(self, records: Iterable[Record]) -> int:
        """Fold records in, in order; the number of changes. Wakes subscribers."""
        assert self.log is not None, "open_log first"
        changes = 0
        now_ms = time.time_ns() // 1_000_000
        for record in records:
            entry = None
            if record.key is None or record.value is None:
                self.metrics.count_bad(record.kind, "no key or no value")
            else:
                try:
                    entry = self.view.apply(record.kind, record.key.decode(), record.value)
                except (BadDocument, UnicodeDecodeError) as exc:
                    self.metrics.count_bad(record.kind, type(exc).__name__)
                    log.warning("skipped a projection record at %s:%d: %s",
                                record.kind.value, record.offset, exc)  # fmt: skip
            self.metrics.count_record(record.kind)
            if self.log.read(record.kind, record.partition, record.offset, entry) is None:
                continue
            assert entry is not None
            changes += 1
            t = entry.last_event_time
            if t is not None and (self.newest_event_time is None or t > self.newest_event_time):
                self.newest_event_time = t
            if record.timestamp_ms is not None and self.caught_up:
                self.metrics.observe_visible((now_ms - record.timestamp_ms) / 1000)
        if changes:
            self.last_change_ms = now_ms
            self.metrics.set_sizes(len(self.view.agents.entries), len(self.view.tasks.entries))
            woken, self._changed = self._changed, asyncio.Event()
            woken.set()
        return changes

    async def wait_change(self, timeout_s: float) -> bool:
        """Until something changes (True) or the timeout (False)."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def lag(self) -> int | None:
        """Records not read yet (None when unknown)."""
        return None

    async def start(self) -> None:
        """Begin reading (a background task for a real feed)."""

    async def stop(self) -> None:
        """Stop reading."""


class MemoryFeed(Feed):
    """A feed the caller fills with `apply`; caught up from the start."""

    def __init__(
        self, metrics: ApiMetrics, change_log_size: int = 10_000, partitions: int = 1
    ) -> None:
        super().__init__(metrics, change_log_size)
        self.open_log({Kind.AGENT: partitions, Kind.TASK: partitions})
        self.caught_up = True
        self._offsets = {Kind.AGENT: 0, Kind.TASK: 0}

    def put(self, kind: Kind, key: str, value: bytes) -> int:
        """Apply one document as the next record of partition 0 of its topic."""
        offset = self._offsets[kind]
        self._offsets[kind] = offset + 1
        return self.apply([Record(kind, 0, offset, key.encode(), value)])
