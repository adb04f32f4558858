"""The entity tables written after a batch: one value per touched entity, per partition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wxcc_stream.processors.core.batch import BatchResult
from wxcc_stream.processors.core.log_cache import LogCache
from wxcc_stream.processors.core.pipeline import owned_writes
from wxcc_stream.processors.shell.faust_private import acting_for
from wxcc_stream.schemas.event import EntityKind

__all__ = ["write_tables"]


def write_tables(
    results: Mapping[EntityKind, BatchResult],
    tables: Mapping[EntityKind, Any],
    caches: Mapping[EntityKind, LogCache],
    owned: Mapping[EntityKind, set[int]],
    carriers: Mapping[int, Any],
) -> None:
    """Apply each result's writes to its table, for the partitions still owned.

    A write goes to the changelog partition of the current event, so each partition's
    values are written on behalf of an input record (`carriers`) read from it: every
    record of an entity comes from the entity's partition.
    """
    for kind, result in results.items():
        table, cache = tables[kind], caches[kind]
        for partition, values in owned_writes(result, owned[kind]):
            with acting_for(carriers[partition]):
                for key, value in values.items():
                    if value is None:
                        table.pop(key, None)
                        cache.discard(key)
                    else:
                        table[key] = value
