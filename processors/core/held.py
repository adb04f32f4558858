"""An event as a log holds it: its sort key, arrival and compact row."""

from __future__ import annotations

from operator import attrgetter
from typing import NamedTuple

from wxcc_stream.processors.storage.rows import Defaults, decode_row
from wxcc_stream.schemas.event import Event

__all__ = ["EventRef", "Held", "SortKey", "held_key"]

EventRef = tuple[str, str]
"""(source, id): the vendor's identity of an event."""
SortKey = tuple[int, int, str, str]
"""The contract order (createdTime, tiebreak, id), then source so the order is total."""


class Held(NamedTuple):
    """An event the log holds: its sort key, processing-time arrival and row.

    Immutable, and the same value from arrival to pruning. A NamedTuple rather than a frozen
    dataclass: one is built for every event taken, and a frozen dataclass costs about four
    times as much to build.
    """

    key: SortKey
    arrived_ms: int
    # encoded once on arrival, so writing the table value does not re-encode the history
    row: bytes
    defaults: Defaults  # the log's, shared: what the row leaves out

    @property
    def event(self) -> Event:
        """The event, decoded from the row."""
        return decode_row(self.row, self.defaults)

    @property
    def ref(self) -> EventRef:
        """(source, id)."""
        return (self.key[3], self.key[2])


held_key = attrgetter("key")
