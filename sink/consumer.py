"""The consumer loop: projection records -> one database transaction per batch -> commit.

A thin shell over `batch.stage` and `Store.write`. Offsets are committed to Kafka only
after the transaction committed, so a crash redoes the last batch at most, and the
revision guard makes that redo invisible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from wxcc_stream.base.settings import Settings
from wxcc_stream.sink.batch import Incoming, Staged, stage
from wxcc_stream.sink.metrics import SinkMetrics
from wxcc_stream.sink.rows import Projection
from wxcc_stream.sink.store import DatabaseUnavailable, Store

log = logging.getLogger("sink")


@dataclass
class SinkStatus:
    """What /readyz reports; written by the loop only."""

    database_ok: bool = False
    caught_up: bool = False
    lag: int | None = None
    error: str | None = None


class ProjectionSink:
    """Reads both projection topics in the sink's consumer group into the database."""

    def __init__(self, settings: Settings, store: Store, metrics: SinkMetrics) -> None:
        self._settings = settings
        self._store = store
        self._metrics = metrics
        self.status = SinkStatus()
        self._projections = {
            settings.topic.agent_state: Projection.AGENT,
            settings.topic.task_lifecycle: Projection.TASK,
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: the batch in hand is written and committed first."""
        if not await self._retry(self._store.open, stop):
            return
        self.status.database_ok = True
        await self._wait_for_topics(stop)
        s = self._settings
        consumer = AIOKafkaConsumer(
            *self._projections,
            bootstrap_servers=s.kafka.bootstrap,
            client_id=f"{s.kafka.client_id}-sink",
            group_id=s.sink.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            while not stop.is_set():
                try:
                    batch = await consumer.getmany(
                        timeout_ms=500, max_records=s.sink.batch_max_records
                    )
                except KafkaError as exc:
                    log.warning("reading the projection topics failed (%s); retrying", exc)
                    await _sleep_or_stop(stop, s.sink.retry_s)
                    continue
                if batch and not await self._write_and_commit(consumer, batch, stop):
                    return
                await self._update_lag(consumer)
        finally:
            await consumer.stop()
            await self._store.close()

    async def _write_and_commit(
        self, consumer: Any, batch: dict[TopicPartition, list[Any]], stop: asyncio.Event
    ) -> bool:
        staged = stage(
            Incoming(self._projections[tp.topic], r.key, r.value)
            for tp, records in batch.items()
            for r in records
        )
        for rejected in staged.rejected:
            log.warning("skipped a %s record: %s", rejected.projection.value, rejected.reason)
        started = time.perf_counter()
        written = await self._retry(lambda: self._write(staged), stop)
        if not written:
            return False  # stopping with the batch unwritten: nothing is committed
        self._metrics.batch_seconds.observe(time.perf_counter() - started)
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            # a rebalance took the partitions: their new owner redoes the batch, unseen
            log.warning("offset commit failed (%s); the batch will be read again", exc)
        return True

    async def _write(self, staged: Staged) -> None:
        changed = await self._store.write(staged)
        self._metrics.count_batch(staged, changed)

    async def _retry(self, action: Any, stop: asyncio.Event) -> bool:
        """Run `action` until it succeeds (True) or `stop` is set (False)."""
        while not stop.is_set():
            try:
                await action()
            except DatabaseUnavailable as exc:
                self._metrics.db_errors.inc()
                self.status.database_ok = False
                self.status.error = f"database: {exc}"
                log.warning("database unavailable (%s); retrying", exc)
                await _sleep_or_stop(stop, self._settings.sink.retry_s)
                continue
            self.status.database_ok = True
            self.status.error = None
            return True
        return False

    async def _wait_for_topics(self, stop: asyncio.Event) -> None:
        """Until both topics exist (subscribing to a missing topic could auto-create it
        uncompacted) and Kafka answers."""
        while not stop.is_set():
            try:
                missing = await self._missing_topics()
            except KafkaError as exc:
                self.status.error = f"Kafka: {exc}"
            else:
                if not missing:
                    self.status.error = None
                    return
                self.status.error = (
                    f"waiting for topics {', '.join(missing)} (the worker creates them)"
                )
            log.info("%s", self.status.error)
            await _sleep_or_stop(stop, self._settings.sink.retry_s)

    async def _missing_topics(self) -> list[str]:
        s = self._settings
        admin = AIOKafkaAdminClient(
            bootstrap_servers=s.kafka.bootstrap, client_id=f"{s.kafka.client_id}-sink-admin"
        )
        await admin.start()
        try:
            described = await admin.describe_topics(list(self._projections))
        finally:
            await admin.close()
        ready = {t["topic"] for t in described if t.get("error_code") == 0}
        return [t for t in self._projections if t not in ready]

    async def _update_lag(self, consumer: Any) -> None:
        """Records of the assigned partitions not written yet, from what the consumer knows
        locally (no request to the broker): the end its fetches saw, minus its position,
        which is what was written and committed once a batch is done."""
        assigned = list(consumer.assignment())
        if not assigned:
            return
        lag = 0
        for tp in assigned:
            end = consumer.last_stable_offset(tp)
            if end is None:
                return  # not fetched from yet: unknown
            try:
                lag += max(0, end - await consumer.position(tp))
            except KafkaError as exc:  # the partition went in a rebalance
                log.debug("lag unknown for now (%s)", exc)
                return
        self.status.lag = lag
        self._metrics.lag.set(lag)
        if lag == 0 and not self.status.caught_up:
            self.status.caught_up = True
            self._metrics.caught_up.set(1)
            log.info("caught up with the projection topics")


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
