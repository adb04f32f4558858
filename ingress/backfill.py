"""Load export files into the raw topic (the shell of `wxcc-stream backfill`).

Items are read in chunks off the event loop, admitted (`ingress.export`) and published
through the ingress's own publisher: a chunk is stored (acks=all) before the next one is
read, so an interrupted load can simply be run again — every event keeps its (source,
id), and the processors drop what they already folded.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Protocol

from wxcc_stream.ingress.export import (
    ExportFormatError,
    ExportItem,
    Topics,
    array_items,
    is_array,
    lines_items,
    record_of,
)
from wxcc_stream.ingress.policy import AdmissionPolicy
from wxcc_stream.ingress.publisher import RawPublisher

CHUNK_ITEMS = 2_000
"""Items published per round trip (one acks=all wait per chunk)."""


class Progress(Protocol):
    """Told how far the load got: bytes of the current file, items taken."""

    def file_started(self, path: Path, size: int) -> None: ...

    def advanced(self, position: int, stored: int, refused: int) -> None: ...


@dataclass(slots=True)
class BackfillSummary:
    """What a load did."""

    files: int = 0
    items: int = 0
    stored: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def deadlettered(self) -> int:
        """Items refused (each went to the dead-letter topic with its reason)."""
        return sum(self.refused.values())


@dataclass(frozen=True, slots=True)
class BackfillJob:
    """One load: the files, where their records go and by which rules."""

    paths: Sequence[Path]
    topics: Topics
    policy: AdmissionPolicy
    now_ms: Callable[[], int]
    dry_run: bool = False


def _chunks(handle: BinaryIO, head: bytes) -> Iterator[list[ExportItem]]:
    if is_array(head):
        items = array_items(handle.read())
        for start in range(0, len(items), CHUNK_ITEMS):
            yield items[start : start + CHUNK_ITEMS]
        return
    stream = lines_items(handle)
    while chunk := list(islice(stream, CHUNK_ITEMS)):
        yield chunk


async def run_backfill(
    job: BackfillJob, publisher: RawPublisher, progress: Progress
) -> BackfillSummary:
    """Load every file of `job` in order; raises PublishError if Kafka fails midway (what
    was published stays, and a rerun stores nothing twice)."""
    summary = BackfillSummary()
    started = time.monotonic()
    for path in job.paths:
        handle = await asyncio.to_thread(path.open, "rb")
        try:
            head = await asyncio.to_thread(handle.peek, 64)  # what the file starts with
            progress.file_started(path, path.stat().st_size)
            chunks = _chunks(handle, head)
            while chunk := await asyncio.to_thread(next, chunks, None):
                await _store(job, path, chunk, publisher, summary)
                progress.advanced(handle.tell(), summary.stored, summary.deadlettered)
        except ExportFormatError as err:
            raise ExportFormatError(f"{path}: {err}") from None
        finally:
            handle.close()
        summary.files += 1
    summary.seconds = time.monotonic() - started
    return summary


async def _store(
    job: BackfillJob,
    path: Path,
    chunk: Sequence[ExportItem],
    publisher: RawPublisher,
    summary: BackfillSummary,
) -> None:
    now = job.now_ms()
    records = []
    for item in chunk:
        record, refusal = record_of(
            item, file=str(path), policy=job.policy, topics=job.topics, now_ms=now
        )
        records.append(record)
        if refusal is None:
            summary.stored += 1
        else:
            summary.refused[refusal.reason.value] += 1
    summary.items += len(chunk)
    if not job.dry_run:
        await publisher.publish(records)
