"""Decoded logs of recently touched entities, so a batch does not decode them again."""

from __future__ import annotations

from collections import OrderedDict

from wxcc_stream.processors.core.log import EntityLog

__all__ = ["LogCache"]


class LogCache:
    """Decoded logs of recently touched entities, keyed by the bytes they were decoded from.

    Decoding a log rebuilds every held event, which costs more than the step itself for an
    agent with a long history; the table hands back the very bytes object that was written
    (or equal bytes from RocksDB), so a cached log is reused only while it is still exactly
    what the table holds. Least recently used entries go first.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[bytes, EntityLog]] = OrderedDict()

    def get(self, key: bytes, raw: bytes) -> EntityLog | None:
        """The log decoded from `raw`, if cached."""
        entry = self._entries.get(key)
        if entry is None or (entry[0] is not raw and entry[0] != raw):
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: bytes, raw: bytes, log: EntityLog) -> None:
        """Remember that `raw` decodes to `log`."""
        self._entries[key] = (raw, log)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def discard(self, key: bytes) -> None:
        """Forget a key (its value was deleted)."""
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
