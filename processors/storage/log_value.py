"""Bytes for an `EntityLog`, so it can live in a Faust table and survive restarts.

Format 3 is written: a head value under the entity's key and one value per sealed chunk of
its history (core/chunks.py); a head longer than `PIECE_BYTES` is written in pieces, with a
format-4 pointer under the entity's key. Formats 1 to 4 are read. The layout is in
docs/processors.md ("Storage formats"). Bump `FORMAT` (and keep a reader) when it changes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import orjson
from immutables import Map

from wxcc_stream.processors.core.log import (
    NO_REFS,
    Chunk,
    EntityLog,
    EventRef,
    Held,
    History,
    SortKey,
    hold,
)
from wxcc_stream.processors.errors import ProcessorError
from wxcc_stream.processors.storage.rows import DEFAULT, Defaults, exact
from wxcc_stream.projections.event_order import OTHER_RANK
from wxcc_stream.projections.registry import KINDS, ProjectionKind
from wxcc_stream.schemas.event import EntityKind, Event

FORMAT = 3
"""Version of the encoded layout; bump it (and keep a reader) when the layout changes."""

PIECES_FORMAT = 4
"""The format of a pointer to a head stored in pieces (its pieces joined are a format-3 head)."""

READABLE = (1, 2, 3, PIECES_FORMAT)
"""The formats `decode_log` reads."""

PIECE_BYTES = 512 * 1024
"""The longest head stored as one value; a longer one is cut into pieces of this size. Kafka
refuses a changelog record over the topic's `max.message.bytes` (1 MiB by default), which a
head passes when an entity holds thousands of events at once (a burst inside the grace, or
the dropped twins of a day resent by a second source); the worker used to crash on it."""

_POINTER_PREFIX = b'{"format":%d,' % PIECES_FORMAT

_SORTED = orjson.OPT_SORT_KEYS


class LogDecodeError(ProcessorError, ValueError):
    """Bytes that are not an encoded `EntityLog` of a known format."""


ValueReader = Callable[[bytes], bytes | None]
"""The table's value at a key (None: not found)."""


def chunk_key(entity_key: bytes, seq: int) -> bytes:
    """Table key of chunk `seq` of an entity's log: NUL first, like the other values that
    are not an entity's head (core/schedule.py), so no entity id can collide with it."""
    return b"\x00log/%s/%d" % (entity_key, seq)


def piece_key(entity_key: bytes, generation: int, n: int) -> bytes:
    """Table key of piece `n` of the `generation`-th head of an entity stored in pieces."""
    return b"\x00head/%s/%d/%d" % (entity_key, generation, n)


def stored_pieces(head: bytes | None) -> tuple[int, int] | None:
    """(generation, pieces) of a stored head value that is a pointer to pieces, else None."""
    if head is None or not head.startswith(_POINTER_PREFIX):
        return None
    generation, count = orjson.loads(head)["pieces"]
    return int(generation), int(count)


def log_writes(
    entity_key: bytes, log: EntityLog, *, whole: bool = False, previous: bytes | None = None
) -> list[tuple[bytes, bytes | None]]:
    """The table writes that store `log`, in the order to apply them: the chunks it sealed
    or stored again, the head (its pieces first when it is longer than `PIECE_BYTES`), then
    the deletions of the chunks it dropped and of the previous head's pieces (so a crash
    between them leaves a head whose chunks and pieces exist). `previous`: the head value
    the table holds now. `whole`: every chunk, for a store that holds nothing of this log
    yet (its pruned rows are gone: those chunks start anew)."""
    history = log.history
    if whole and history.chunks:
        log = _restarted(log)
        history = log.history
    writes: list[tuple[bytes, bytes | None]] = []
    if history.unsaved:
        for run, chunk in enumerate(history.chunks):
            if chunk.seq in history.unsaved:
                rows = history.rows(run)
                writes.append((chunk_key(entity_key, chunk.seq), b"[%s]" % b",".join(rows)))
    old = stored_pieces(previous)
    head = encode_log(log)
    if len(head) <= PIECE_BYTES:
        writes.append((entity_key, head))
    else:
        # a new generation, so the pieces the previous head names stay whole until it is replaced
        generation = old[0] + 1 if old is not None else 0
        count = -(-len(head) // PIECE_BYTES)
        for n in range(count):
            piece = head[n * PIECE_BYTES : (n + 1) * PIECE_BYTES]
            writes.append((piece_key(entity_key, generation, n), piece))
        pointer = {"format": PIECES_FORMAT, "entityId": log.entity_id}
        writes.append((entity_key, orjson.dumps({**pointer, "pieces": [generation, count]})))
    writes.extend((chunk_key(entity_key, seq), None) for seq in history.dropped)
    if old is not None:
        writes.extend((piece_key(entity_key, old[0], n), None) for n in range(old[1]))
    return writes


def _restarted(log: EntityLog) -> EntityLog:
    """`log` with every chunk to be written, none skipping rows it no longer has."""
    old = log.history
    chunks = [
        Chunk(c.seq, len(run), 0, c.sealed_ms) for c, run in zip(old.chunks, old.runs, strict=True)
    ]
    history = History(old.runs, chunks, old.tail, old.next_chunk)
    history.unsaved = {c.seq for c in chunks}
    return replace(log, history=history)


def encode_log(log: EntityLog) -> bytes:
    """The head value of a log: all of it but its sealed chunks (`log_writes`);
    `decode_log(encode_log(log), chunks) == log` exactly."""
    spec = KINDS[log.kind]
    head: dict[str, Any] = {
        "format": FORMAT,
        "kind": log.kind.value,
        "entityId": log.entity_id,
        "state": spec.to_dict(log.state),
        "watermark": log.watermark,
        "floor": log.floor,
        "lastArrivalMs": log.last_arrival_ms,
        "defaults": log.defaults,
        # flat: [seq, size, skip, sealedMs, seq, ...] (one list, not one per chunk), encoded
        # once per change of the chunks rather than at every write
        "chunks": orjson.Fragment(log.history.layout()),
        "nextChunk": log.history.next_chunk,
    }
    base = log.base
    # a fold's revision counts its events: revision 0 is the initial projection, and equal
    # revisions tell most states apart before they are compared
    if base is not log.state and (base.revision != log.state.revision or base != log.state):
        head["base"] = None if base.revision == 0 else spec.to_dict(base)
    twins = b""
    if log.twins:
        # in (source, id) order: the map's own order follows str hashes, which differ
        # between processes, and equal logs should give equal bytes
        rows = [held.row for _, held in sorted(log.twins.items())]
        twins = b',"twins":[%s]' % b",".join(rows)
    # one join into a buffer of the exact size (orjson's own would be several times larger)
    return b"".join(
        (
            orjson.dumps(head)[:-1],
            twins,
            b',"history":[',
            b",".join([h.row for h in log.history.tail]),
            b'],"buffer":[',
            b",".join([h.row for h in log.buffer]),
            b"]}",
        )
    )


def _held(raw: Any, spec: ProjectionKind, defaults: Defaults) -> Held:
    """A format-2 row, parsed: its bytes again (rows are canonical, so the same bytes)."""
    if not isinstance(raw, list) or len(raw) < 8:
        raise TypeError(f"a row is an array of 8 or 9 values, not {raw!r:.80}")
    arrived_ms, created_time, type_, ce_id, source = raw[:5]
    if source == DEFAULT and type(source) is int:
        source = defaults[0]
    # the events are decoded when needed; the shape is checked now, while it can be refused
    if not (
        all(type(v) is int for v in (arrived_ms, created_time))
        and all(isinstance(v, str) for v in (type_, ce_id, source))
        and isinstance(raw[7], dict)
    ):
        raise TypeError(f"not an event row: {raw!r:.120}")
    key: SortKey = (
        created_time,
        spec.ranks.get(type_, OTHER_RANK),
        ce_id,
        sys.intern(source),
    )
    return Held(key, arrived_ms, exact(orjson.dumps(raw, option=_SORTED)), defaults)


def _defaults(raw: Any) -> Defaults:
    source, org_id = raw
    if not isinstance(source, str) or not (org_id is None or isinstance(org_id, str)):
        raise TypeError(f"defaults are [source, orgId], not {raw!r:.80}")
    return (sys.intern(source), org_id)


Rows = tuple[Defaults | None, History, list[Held], Map[EventRef, Held]]


def _rows(doc: Mapping[str, Any], spec: ProjectionKind, read: ValueReader | None) -> Rows:
    """Format 2 and 3 rows: the chunks' (format 3, read with `read`), then the head's."""
    chunks, runs = _chunks(doc, read) if "chunks" in doc else ([], [])
    if doc["defaults"] is None:
        if runs or doc["history"] or doc["buffer"]:
            raise ValueError("rows without defaults")
        return None, History(), [], NO_REFS
    defaults = _defaults(doc["defaults"])
    dropped = (_held(r, spec, defaults) for r in doc.get("twins", ()))
    twins: Map[EventRef, Held] = Map([(h.ref, h) for h in dropped])
    history = History(
        (tuple(_held(h, spec, defaults) for h in run) for run in runs),
        chunks,
        (_held(h, spec, defaults) for h in doc["history"]),
        doc.get("nextChunk", 0),
    )
    return defaults, history, [_held(h, spec, defaults) for h in doc["buffer"]], twins


def _chunks(doc: Mapping[str, Any], read: ValueReader | None) -> tuple[list[Chunk], list[Any]]:
    """Format 3: the chunk layout and each chunk's rows still in the history, read."""
    flat = doc["chunks"]
    if len(flat) % 4 or not all(type(v) is int for v in flat):
        raise LogDecodeError(f"chunk layout of {doc['entityId']!r} is not [seq, size, skip, ms]*")
    chunks = [Chunk(*flat[i : i + 4]) for i in range(0, len(flat), 4)]
    if chunks and read is None:
        raise LogDecodeError("entity log has chunks, and no way to read them was given")
    runs: list[Any] = []
    entity_key = str(doc["entityId"]).encode()
    for chunk in chunks:
        assert read is not None
        raw = read(chunk_key(entity_key, chunk.seq))
        if raw is None:
            raise LogDecodeError(f"chunk {chunk.seq} of {doc['entityId']!r} is missing")
        stored = orjson.loads(raw)
        if not isinstance(stored, list) or len(stored) != chunk.size or chunk.skip >= chunk.size:
            raise LogDecodeError(f"chunk {chunk.seq} of {doc['entityId']!r} is not its rows")
        runs.append(stored[chunk.skip :])
    return chunks, runs


def _rows_v1(doc: Mapping[str, Any], kind: EntityKind) -> Rows:
    """Format 1: held events as `[arrivedMs, Event.to_dict()]`, made rows (the defaults are
    those of the first one, as if it had been the first held)."""
    parts = [[(int(a), Event.from_dict(e)) for a, e in doc[name]] for name in ("history", "buffer")]
    first = next((e for part in parts for _, e in part), None)
    if first is None:
        return None, History(), [], NO_REFS
    defaults = (sys.intern(first.ce_source), first.org_id)
    history, buffer = ([hold(kind, e, a, defaults) for a, e in part] for part in parts)
    return defaults, History.of(history), buffer, NO_REFS


def decode_log(raw: bytes, read: ValueReader | None = None) -> EntityLog:
    """Decode a head value (format 4, 3, 2 or 1), reading its pieces and chunks from the
    table with `read`; raises `LogDecodeError` on anything else, or on a piece or chunk
    that is missing."""
    doc = _head_doc(raw)
    if doc.get("format") == PIECES_FORMAT:
        doc = _head_doc(_joined(doc, read))
    found = doc.get("format")
    if found not in READABLE or isinstance(found, bool) or found == PIECES_FORMAT:
        raise LogDecodeError(f"entity log format {found!r} is not one of {READABLE}")
    try:
        kind = EntityKind(doc["kind"])
        spec = KINDS[kind]
        entity_id = doc["entityId"]
        state = spec.from_dict(doc["state"])
        if found == 1:
            base = spec.from_dict(doc["base"])
            defaults, history, buffer, twins = _rows_v1(doc, kind)
        else:
            if "base" not in doc:
                base = state
            elif doc["base"] is None:
                base = spec.initial(entity_id)
            else:
                base = spec.from_dict(doc["base"])
            defaults, history, buffer, twins = _rows(doc, spec, read)
        return EntityLog(
            kind=kind,
            entity_id=entity_id,
            state=state,
            base=base,
            history=history,
            buffer=tuple(buffer),
            watermark=doc["watermark"],
            floor=doc["floor"],
            last_arrival_ms=doc["lastArrivalMs"],
            defaults=defaults,
            twins=twins,
        )
    except LogDecodeError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise LogDecodeError(f"entity log is malformed: {exc!r}") from None


def _head_doc(raw: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise LogDecodeError(f"entity log is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise LogDecodeError(f"entity log format {type(doc).__name__!r} is not one of {READABLE}")
    return doc


def _joined(pointer: Mapping[str, Any], read: ValueReader | None) -> bytes:
    """The head a format-4 pointer names, its pieces read and joined."""
    try:
        entity_key = str(pointer["entityId"]).encode()
        generation, count = (int(v) for v in pointer["pieces"])
    except (KeyError, TypeError, ValueError) as exc:
        raise LogDecodeError(f"entity log pointer is malformed: {exc!r}") from None
    if read is None:
        raise LogDecodeError("entity log is stored in pieces, and no way to read them was given")
    pieces = []
    for n in range(count):
        piece = read(piece_key(entity_key, generation, n))
        if piece is None:
            name = pointer["entityId"]
            raise LogDecodeError(f"piece {n} of head {generation} of {name!r} is missing")
        pieces.append(piece)
    return b"".join(pieces)
