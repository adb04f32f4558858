"""A consumer batch -> one row per key and table, the highest revision winning.

Collapsing first makes the multi-row merge legal (PostgreSQL refuses to touch one row
twice in one statement) and smaller; the database's revision guard still decides against
what the table already holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from wxcc_stream.sink.errors import BadDocument
from wxcc_stream.sink.rows import TABLES, Projection, Row, document_row, parse_document

REVISION = -3
"""Index of `revision` in a row (before schema_version and the document)."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One projection record as the consumer read it."""

    projection: Projection
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that was skipped, and why (counted and logged by the shell)."""

    projection: Projection
    reason: str


@dataclass(frozen=True, slots=True)
class Staged:
    """What one batch writes: rows per table (one per key), the records it skipped."""

    rows: Mapping[Projection, tuple[Row, ...]]
    rejected: tuple[Rejected, ...] = ()
    documents: Mapping[Projection, int] = field(default_factory=dict)

    def row_count(self) -> int:
        return sum(len(r) for r in self.rows.values())


def highest_revision(rows: Iterable[Row]) -> tuple[Row, ...]:
    """One row per key (index 0): the one with the highest revision; on a tie the later
    one (same revision means the same events folded, so the same document)."""
    kept: dict[str, Row] = {}
    for row in rows:
        held = kept.get(row[0])
        if held is None or row[REVISION] >= held[REVISION]:
            kept[row[0]] = row
    # in key order: concurrent batches (around a rebalance) lock rows in the same order
    return tuple(kept[key] for key in sorted(kept))


def _row(record: Incoming) -> Row:
    table = TABLES[record.projection]
    doc = parse_document(record.value)
    assert record.value is not None  # parse_document refuses None
    key: object = doc.get(table.key_field)  # without a record key the document names it
    if record.key is not None:
        try:
            key = record.key.decode()
        except UnicodeDecodeError:
            raise BadDocument("key is not UTF-8") from None
    if not isinstance(key, str) or not key:
        raise BadDocument(f"no key and no {table.key_field}")
    return document_row(table, key, doc, record.value.decode())


def stage(records: Iterable[Incoming]) -> Staged:
    """Map and collapse a batch; bad records are set aside, never written. Raises
    NewerSchema for a document this sink cannot read: the whole batch is left unwritten."""
    rows: dict[Projection, list[Row]] = {p: [] for p in Projection}
    rejected: list[Rejected] = []
    for record in records:
        try:
            rows[record.projection].append(_row(record))
        except (BadDocument, UnicodeDecodeError) as exc:
            rejected.append(Rejected(record.projection, str(exc)))
    return Staged(
        rows={p: highest_revision(r) for p, r in rows.items()},
        rejected=tuple(rejected),
        documents={p: len(r) for p, r in rows.items()},
    )
