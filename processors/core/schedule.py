"""Which entities of a partition have work due at a processing time.

Flush wake-ups (buffered events) in one small index per partition, expiry wake-ups (quiet
ended entities) in time buckets, all under NUL-prefixed keys of the entity table itself;
the reasons are in docs/processors.md ("The wake-up schedule").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

__all__ = ["Schedule", "bucket_key", "index_key", "is_internal_key"]

_INTERNAL = b"\x00"


def index_key(partition: int) -> bytes:
    """Table key of a partition's flush index (and list of expiry buckets)."""
    return b"\x00schedule/%d" % partition


def bucket_key(partition: int, bucket: int) -> bytes:
    """Table key of one expiry bucket of a partition."""
    return b"\x00expire/%d/%d" % (partition, bucket)


def is_internal_key(key: bytes) -> bool:
    """True for schedule keys, which are not entities."""
    return key.startswith(_INTERNAL)


Load = Callable[[bytes], bytes | None]


@dataclass(slots=True)
class Schedule:
    """The mutable working copy of one partition's schedule during one batch."""

    partition: int
    bucket_ms: int
    due: dict[str, int] = field(default_factory=dict)
    buckets: set[int] = field(default_factory=set)
    dirty: bool = False
    _bucket_values: dict[int, dict[str, int]] = field(default_factory=dict)
    _dirty_buckets: set[int] = field(default_factory=set)

    @classmethod
    def load(cls, partition: int, raw: bytes | None, bucket_ms: int) -> Schedule:
        """Decode a partition's index value (None: nothing scheduled yet)."""
        schedule = cls(partition, bucket_ms)
        if raw:
            doc = orjson.loads(raw)
            schedule.due = {str(k): int(v) for k, v in doc["due"].items()}
            schedule.buckets = {int(b) for b in doc["buckets"]}
        return schedule

    def _bucket(self, bucket: int, load: Load) -> dict[str, int]:
        values = self._bucket_values.get(bucket)
        if values is None:
            raw = load(bucket_key(self.partition, bucket)) if bucket in self.buckets else None
            values = {str(k): int(v) for k, v in orjson.loads(raw).items()} if raw else {}
            self._bucket_values[bucket] = values
        return values

    def bucket_of(self, wakeup_ms: int) -> int:
        """The expiry bucket a wake-up time falls in."""
        return wakeup_ms // self.bucket_ms

    def update(
        self,
        entity_id: str,
        *,
        flush_at: int | None,
        expire_at: int | None,
        filed_expire_at: int | None,
        load: Load,
    ) -> None:
        """Record an entity's next wake-ups after it was processed.

        `filed_expire_at` is the expiry wake-up it is already filed under (None if it is
        filed nowhere), so an entity is written into a bucket only when it changes bucket.
        """
        if flush_at is not None:
            if self.due.get(entity_id) != flush_at:
                self.due[entity_id] = flush_at
                self.dirty = True
        elif self.due.pop(entity_id, None) is not None:
            self.dirty = True
        if expire_at is None:
            return
        bucket = self.bucket_of(expire_at)
        if filed_expire_at is not None and self.bucket_of(filed_expire_at) == bucket:
            return
        self._bucket(bucket, load)[entity_id] = expire_at
        self._dirty_buckets.add(bucket)
        if bucket not in self.buckets:
            self.buckets.add(bucket)
            self.dirty = True

    def take_due(self, now_ms: int, limit: int) -> list[str]:
        """Entities whose flush is due (oldest first, at most `limit`); `update` refiles them."""
        ready = sorted((at, eid) for eid, at in self.due.items() if at <= now_ms)
        return [eid for _, eid in ready[:limit]]

    def take_expiring(self, now_ms: int, limit: int, load: Load) -> list[str]:
        """Entities whose expiry wake-up has come, removed from their buckets (at most `limit`).

        The caller runs `release_due` on each and files it again with `update` (passing
        `filed_expire_at=None`), so one that is not quiet after all gets a new bucket.
        """
        taken: list[str] = []
        for bucket in sorted(self.buckets):
            if bucket * self.bucket_ms > now_ms or len(taken) >= limit:
                break
            values = self._bucket(bucket, load)
            for eid, at in sorted(values.items(), key=lambda item: item[1]):
                if len(taken) >= limit:
                    break
                if at <= now_ms:
                    taken.append(eid)
                    del values[eid]
                    self._dirty_buckets.add(bucket)
            if not values:
                self.buckets.discard(bucket)
                self.dirty = True
        return taken

    def writes(self) -> dict[bytes, bytes | None]:
        """Table values to write for this batch (None deletes a worked-off bucket)."""
        out: dict[bytes, bytes | None] = {}
        for bucket in sorted(self._dirty_buckets):
            values = self._bucket_values.get(bucket, {})
            key = bucket_key(self.partition, bucket)
            out[key] = orjson.dumps(values, option=orjson.OPT_SORT_KEYS) if values else None
            if not values:
                self.buckets.discard(bucket)
                self.dirty = True
        if self.dirty:
            doc = {"due": self.due, "buckets": sorted(self.buckets)}
            out[index_key(self.partition)] = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
        self._dirty_buckets.clear()
        self.dirty = False
        return out

    def pending_count(self) -> int:
        """Entities waiting for a flush (for logs and tests)."""
        return len(self.due)
