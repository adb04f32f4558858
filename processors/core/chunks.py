"""How a log's history is stored: sealed chunks, each its own table value, and a short tail.

A table value rewritten whole at every write costs as much as the history is long: a busy
agent late in the day wrote ~270 KB per event. So the history is stored append-only: the
head value (the entity's key) holds the projection, the buffer and the tail, the newest
history events; every `CHUNK_SIZE` events of the tail are sealed into a chunk of their own,
written once. A step then writes the head and, now and then, one chunk, whatever the
history's length (docs/processors.md, "Storage formats").

The steps keep the layout in line with the history as they change it:

- a release appends to the tail: no chunk changes;
- a late insert or a superseded twin inside a sealed chunk stores that chunk again, under a
  new sequence number; the old one is dropped once the head no longer names it;
- a prune skips the chunk's first rows (the head says how many) and drops a chunk once all
  of it is pruned;
- a compaction drops every chunk.

Chunks are never rewritten in place: a crash between the writes of one batch (chunks first,
then the head, then the deletions) leaves a head whose chunks all exist.
"""

from __future__ import annotations

from wxcc_stream.processors.core.log import Chunk
from wxcc_stream.processors.core.working import Working

__all__ = ["CHUNK_SIZE", "on_clear", "on_insert", "on_prune", "on_remove", "restore_since", "seal"]

CHUNK_SIZE = 16
"""Events per sealed chunk: the tail (in the head value) holds fewer than this."""


def _locate(w: Working, position: int) -> tuple[int, int] | None:
    """(chunk index, first history position of that chunk) of a sealed position, or None
    for a position in the tail."""
    if position >= w.sealed:
        return None
    start = 0
    for i, chunk in enumerate(w.chunks):
        live = chunk.size - chunk.skip
        if position < start + live:
            return i, start
        start += live
    raise AssertionError("sealed positions are covered by the chunks")


def _restore(w: Working, index: int, live: int) -> None:
    """Store chunk `index` again, now `live` events long, under a new sequence number."""
    old = w.chunks[index]
    w.dropped.append(old.seq)
    w.unsaved.discard(old.seq)
    if live == 0:
        del w.chunks[index]
        return
    w.chunks[index] = Chunk(w.next_chunk, live, 0, w.now_ms)
    w.unsaved.add(w.next_chunk)
    w.next_chunk += 1


def on_insert(w: Working, position: int) -> None:
    """An event was inserted at history `position` (a late one, or a superseding twin): it
    joins the chunk that held the event before it, if that one is sealed."""
    if position >= w.sealed or w.sealed == 0:
        return
    # position 0 lands before every chunk: it joins the first one
    found = _locate(w, max(0, position - 1))
    assert found is not None
    index, _ = found
    w.sealed += 1
    _restore(w, index, w.chunks[index].live + 1)


def on_remove(w: Working, position: int) -> None:
    """The history event at `position` was removed (superseded by its semantic twin)."""
    found = _locate(w, position)
    if found is None:
        return
    index, _ = found
    w.sealed -= 1
    _restore(w, index, w.chunks[index].live - 1)


def on_prune(w: Working, count: int) -> None:
    """The first `count` history events were pruned into the base."""
    while count and w.chunks:
        first = w.chunks[0]
        live = first.size - first.skip
        if count < live:
            w.chunks[0] = first._replace(skip=first.skip + count)
            w.sealed -= count
            return
        w.dropped.append(first.seq)
        w.unsaved.discard(first.seq)
        del w.chunks[0]
        w.sealed -= live
        count -= live


def on_clear(w: Working) -> None:
    """The history was emptied (a compaction)."""
    for chunk in w.chunks:
        w.dropped.append(chunk.seq)
        w.unsaved.discard(chunk.seq)
    w.chunks.clear()
    w.sealed = 0


def seal(w: Working) -> None:
    """Seal the tail's oldest events into chunks while the tail holds `CHUNK_SIZE` or more;
    with a replay among this step's duplicates, store again the chunks it may have lost."""
    if w.restore_since is not None:
        restore_since(w, w.restore_since)
    while len(w.history) - w.sealed >= CHUNK_SIZE:
        w.chunks.append(Chunk(w.next_chunk, CHUNK_SIZE, 0, w.now_ms))
        w.unsaved.add(w.next_chunk)
        w.next_chunk += 1
        w.sealed += CHUNK_SIZE


def restore_since(w: Working, since_ms: int) -> None:
    """Store again the chunks sealed at or after `since_ms`.

    A duplicate of an event taken at `since_ms` may be the replay of a batch whose table
    writes reached the local store but not the changelog before a crash; the head is then
    written again (so the changelog gets it), and so must be the chunks that batch or a
    later one sealed, or a worker restoring the table from the changelog would miss them.
    """
    for i in range(len(w.chunks)):
        chunk = w.chunks[i]
        if chunk.sealed_ms >= since_ms and chunk.seq not in w.unsaved:
            _restore(w, i, chunk.live)
