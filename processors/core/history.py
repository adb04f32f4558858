"""A log's history: the folded events in contract order, held as sealed runs and a tail.

A table value rewritten whole at every write costs as much as the history is long: a busy
agent late in the day wrote ~270 KB per event, and copying a long history in memory at each
step touched every held event. So the history is append-only in both places: every
`CHUNK_SIZE` events of the tail are sealed into a run, an immutable tuple shared by every
later value of the log and stored once as a chunk value of its own; a step copies only the
list of runs and the short tail (docs/processors.md, "Storage formats").

The changes a step makes keep runs and chunks in line:

- a release appends to the tail: no chunk changes;
- a late insert or a superseded twin inside a sealed run stores that run again, as a chunk
  under a new number; the old chunk is dropped once the head no longer names it;
- a prune skips the first run's oldest rows (the head says how many) and drops a chunk
  once all of it is pruned;
- a compaction drops every chunk.

Chunks are never rewritten in place: a crash between the writes of one batch (chunks first,
then the head, then the deletions) leaves a head whose chunks all exist.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from typing import Any, NamedTuple

import orjson

from wxcc_stream.processors.core.held import Held, held_key

__all__ = ["CHUNK_SIZE", "Chunk", "History"]

CHUNK_SIZE = 16
"""Events per sealed run: the tail (in the head value) holds fewer than this."""


class Chunk(NamedTuple):
    """How one sealed run is stored: under its own key, `size` rows, of which the first
    `skip` were pruned since. `sealed_ms` is the processing time of the step that stored it
    (a replay of that step's records stores it again, see `History.seal`)."""

    seq: int
    size: int
    skip: int
    sealed_ms: int


class History:
    """The folded events of a log, in contract order, as a sequence.

    A `History` inside an `EntityLog` is never changed: a step works on `copy()`, which
    shares the sealed runs and starts with nothing unsaved. `chunks[i]` describes how
    `runs[i]` is stored; `unsaved` are the chunk numbers the step stored (to write) and
    `dropped` those it no longer needs (to delete).
    """

    __slots__ = (
        "_layout",
        "chunks",
        "dropped",
        "next_chunk",
        "runs",
        "sealed",
        "tail",
        "unsaved",
    )

    def __init__(
        self,
        runs: Iterable[tuple[Held, ...]] = (),
        chunks: Iterable[Chunk] = (),
        tail: Iterable[Held] = (),
        next_chunk: int = 0,
    ) -> None:
        self.runs = list(runs)
        self.chunks = list(chunks)
        self.tail = list(tail)
        self.sealed = sum(len(r) for r in self.runs)
        self.next_chunk = next_chunk
        self.unsaved: set[int] = set()
        self.dropped: list[int] = []
        self._layout: bytes | None = None

    @classmethod
    def of(cls, entries: Iterable[Held]) -> History:
        """A history of these events, nothing sealed yet."""
        return cls(tail=entries)

    def copy(self) -> History:
        """A copy to change in one step: the runs are shared, nothing is unsaved."""
        new = History.__new__(History)
        new.runs = self.runs.copy()
        new.chunks = self.chunks.copy()
        new.tail = self.tail.copy()
        new.sealed = self.sealed
        new.next_chunk = self.next_chunk
        new.unsaved = set()
        new.dropped = []
        new._layout = self._layout
        return new

    # reading

    def __len__(self) -> int:
        return self.sealed + len(self.tail)

    def __bool__(self) -> bool:
        return bool(self.tail) or self.sealed > 0

    def __iter__(self) -> Iterator[Held]:
        # lazy over the runs: a prune reads only the oldest few
        return chain(chain.from_iterable(self.runs), self.tail)

    def __getitem__(self, position: int) -> Held:
        if position < 0:
            position += len(self)
        if position >= self.sealed:
            return self.tail[position - self.sealed]
        run, offset = self._locate(position)
        return self.runs[run][offset]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, History | tuple | list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"History({list(self)!r})"

    def last(self) -> Held:
        """The newest event (the history is not empty)."""
        return self.tail[-1] if self.tail else self.runs[-1][-1]

    def range(self, start: int, stop: int) -> Iterator[Held]:
        """The events at positions start..stop-1."""
        if start >= self.sealed:
            return iter(self.tail[start - self.sealed : stop - self.sealed])
        run, offset = self._locate(start)
        later = chain.from_iterable(islice(self.runs, run + 1, None))
        rest = chain(islice(self.runs[run], offset, None), later, self.tail)
        return islice(rest, stop - start)

    def bisect(self, key: Any) -> int:
        """The position at which an event with sort key `key` goes (before equal keys)."""
        tail = self.tail
        if not self.runs or (tail and key > tail[0].key):
            return self.sealed + bisect_left(tail, key, key=held_key)
        start = 0
        for run in self.runs:
            if key <= run[-1].key:
                return start + bisect_left(run, key, key=held_key)
            start += len(run)
        return start + bisect_left(tail, key, key=held_key)

    def bisect_prefix(self, prefix: tuple[int, int]) -> int:
        """The position of the first event whose (createdTime, tiebreak) is `prefix` or
        later."""
        return self.bisect(prefix)

    def layout(self) -> bytes:
        """The chunks as the head stores them, a flat JSON array `[seq, size, skip, sealedMs,
        seq, ...]`; kept until the chunks change, as most steps leave them alone and
        encoding them cost a long history ~9 µs per write (4 numbers per 16 events)."""
        if self._layout is None:
            self._layout = orjson.dumps(list(chain.from_iterable(self.chunks)))
        return self._layout

    def rows(self, run: int) -> list[bytes]:
        """The rows of sealed run `run`, as stored."""
        return [h.row for h in self.runs[run]]

    def _locate(self, position: int) -> tuple[int, int]:
        """(run, offset) of a sealed position."""
        for i, run in enumerate(self.runs):
            if position < len(run):
                return i, position
            position -= len(run)
        raise IndexError("history position out of range")

    # changing (a step's copy only)

    def append(self, held: Held) -> None:
        self.tail.append(held)

    def insert(self, position: int, held: Held, now_ms: int) -> None:
        """Insert at `position`: into the tail, or into the sealed run of the event before it
        (the first run at position 0), which is stored again."""
        if position >= self.sealed:
            self.tail.insert(position - self.sealed, held)
            return
        run, offset = self._locate(max(0, position - 1))
        if position > 0:
            offset += 1
        entries = self.runs[run]
        self._restore(run, (*entries[:offset], held, *entries[offset:]), now_ms)
        self.sealed += 1

    def remove(self, position: int, now_ms: int) -> None:
        """Remove the event at `position` (superseded by its semantic twin)."""
        if position >= self.sealed:
            del self.tail[position - self.sealed]
            return
        run, offset = self._locate(position)
        entries = self.runs[run]
        self._restore(run, (*entries[:offset], *entries[offset + 1 :]), now_ms)
        self.sealed -= 1

    def oldest(self, count: int) -> list[Held]:
        """The `count` oldest events."""
        return list(islice(iter(self), count))

    def drop_oldest(self, count: int) -> None:
        """Forget the `count` oldest events (pruned into the base)."""
        while count and self.runs:
            run, chunk = self.runs[0], self.chunks[0]
            if count < len(run):
                self.runs[0] = run[count:]
                self.chunks[0] = chunk._replace(skip=chunk.skip + count)
                self._layout = None
                self.sealed -= count
                return
            self._drop(0)
            count -= len(run)
        del self.tail[:count]

    def clear(self) -> None:
        while self.runs:
            self._drop(0)
        self.tail.clear()

    def seal(self, now_ms: int, restore_since: int | None) -> None:
        """Seal the tail's oldest events into runs while it holds `CHUNK_SIZE` or more.

        `restore_since`: the earliest arrival of an event this step saw again under its own
        (source, id). Such a duplicate may be the replay of a batch whose writes reached the
        local store but not the changelog before a crash; the head is then written again,
        and so must be the chunks that batch or a later one sealed, or a worker restoring
        the table from the changelog would miss them.
        """
        if restore_since is not None:
            for i, chunk in enumerate(self.chunks):
                if chunk.sealed_ms >= restore_since and chunk.seq not in self.unsaved:
                    self._restore(i, self.runs[i], now_ms)
        while len(self.tail) >= CHUNK_SIZE:
            self._layout = None
            self.runs.append(tuple(self.tail[:CHUNK_SIZE]))
            del self.tail[:CHUNK_SIZE]
            self.chunks.append(Chunk(self.next_chunk, CHUNK_SIZE, 0, now_ms))
            self.unsaved.add(self.next_chunk)
            self.next_chunk += 1
            self.sealed += CHUNK_SIZE

    def _restore(self, run: int, entries: tuple[Held, ...], now_ms: int) -> None:
        """Store run `run` again, now `entries`, under a new number (dropped if empty)."""
        old = self.chunks[run]
        self._layout = None
        self.dropped.append(old.seq)
        self.unsaved.discard(old.seq)
        if not entries:
            del self.runs[run], self.chunks[run]
            return
        self.runs[run] = entries
        self.chunks[run] = Chunk(self.next_chunk, len(entries), 0, now_ms)
        self.unsaved.add(self.next_chunk)
        self.next_chunk += 1

    def _drop(self, run: int) -> None:
        seq = self.chunks[run].seq
        self._layout = None
        self.dropped.append(seq)
        self.unsaved.discard(seq)
        self.sealed -= len(self.runs[run])
        del self.runs[run], self.chunks[run]
