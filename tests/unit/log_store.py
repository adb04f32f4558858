"""A log through the table and back, as a worker restoring it would read it."""

from __future__ import annotations

from wxcc_stream.processors.core.log import EntityLog
from wxcc_stream.processors.storage.log_value import decode_log, log_writes


def stored(log: EntityLog) -> EntityLog:
    """`log` written whole (head and every chunk) to an empty table, then read back."""
    key = log.entity_id.encode()
    table = dict(log_writes(key, log, whole=True))
    head = table[key]
    assert head is not None
    return decode_log(head, table.get)
