"""The consumer loop: projection records -> one database transaction per batch -> commit.

A thin shell over `batch.stage` and `Store.write`. Offsets are committed to Kafka only
after the transaction committed, so a crash redoes the last batch at most, and the
revision guard makes that redo invisible.

It follows the current topic generation (docs/replay.md): the generations topic is read at
start and every `generation_check_s`; when a projection's promoted generation is not the
one its table holds, the loop stops consuming, `Store.switch` reloads that table from the
new generation's topic in one transaction, and consuming resumes on the new topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from wxcc_stream.base.settings import Settings
from wxcc_stream.base.topic_log import partitions_of, read_topic
from wxcc_stream.schemas.generations import current_generations
from wxcc_stream.sink.batch import Incoming, Staged, stage
from wxcc_stream.sink.metrics import SinkMetrics
from wxcc_stream.sink.rows import Projection
from wxcc_stream.sink.store import DatabaseUnavailable, Store

log = logging.getLogger("sink")
# the generations topic's name of each projection
_GENERATION_NAMES = {Projection.AGENT: "agent-state", Projection.TASK: "task-lifecycle"}


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
        self._projections: dict[str, Projection] = {}
        self.generations: dict[Projection, int] = {p: 1 for p in Projection}

    def topic_of(self, projection: Projection, generation: int) -> str:
        """A projection's topic in a generation (1: the live topic)."""
        t = self._settings.topic
        live = {Projection.AGENT: t.agent_state, Projection.TASK: t.task_lifecycle}
        return t.in_generation(live[projection], generation)

    def topics(self, generations: Mapping[Projection, int]) -> dict[str, Projection]:
        """The projection topics of those generations."""
        return {self.topic_of(p, generations[p]): p for p in Projection}

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: the batch in hand is written and committed first."""
        if not await self._retry(self._store.open, stop):
            return
        self.status.database_ok = True
        try:
            while not stop.is_set():
                if not await self._follow_promotions(stop):
                    return
                await self._consume(stop)
        finally:
            await self._store.close()

    async def _consume(self, stop: asyncio.Event) -> None:
        """Consume the current generations' topics until `stop`, or until another
        generation is promoted (the caller then switches the tables)."""
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
        promotion = asyncio.Event()
        watch = asyncio.create_task(self._watch_generations(promotion, stop))
        try:
            while not stop.is_set() and not promotion.is_set():
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
            watch.cancel()
            await consumer.stop()

    async def _watch_generations(self, promotion: asyncio.Event, stop: asyncio.Event) -> None:
        """Set `promotion` once the generations topic names other generations than the
        tables hold (read every `generation_check_s`, beside the consumer loop)."""
        while await _sleep_or_stop(stop, self._settings.sink.generation_check_s):
            promoted = await self._promoted()
            if promoted is not None and promoted != self.generations:
                log.info("a generation was promoted: %s", promoted)
                promotion.set()
                return

    async def _promoted(self) -> dict[Projection, int] | None:
        """The current generation of each projection, from the generations topic (None
        when Kafka did not answer: keep what is held)."""
        try:
            records = await read_topic(
                self._settings.kafka.bootstrap, self._settings.topic.generations
            )
        except (KafkaError, TimeoutError) as exc:
            log.warning("reading the generations topic failed (%s)", exc)
            return None
        current = current_generations(records)
        return {p: current[name] for p, name in _GENERATION_NAMES.items()}

    async def _follow_promotions(self, stop: asyncio.Event) -> bool:
        """Bring every table to its projection's promoted generation; False if stopping."""
        promoted = None
        while promoted is None:
            promoted = await self._promoted()
            if promoted is None and not await _sleep_or_stop(stop, self._settings.sink.retry_s):
                return False
        held: dict[Projection, int] = {}

        async def read_held() -> None:
            held.update(await self._store.generations())

        if not await self._retry(read_held, stop):
            return False
        for projection, generation in promoted.items():
            if held[projection] != generation and not await self._switch(
                projection, held[projection], generation, stop
            ):
                return False
        self.generations = promoted
        self._projections = self.topics(promoted)
        return True

    async def _switch(
        self, projection: Projection, held: int, generation: int, stop: asyncio.Event
    ) -> bool:
        topic = self.topic_of(projection, generation)
        await self._wait_for_topics(stop, [topic])
        log.info(
            "%s: generation %d was promoted; reloading the table from %s (it keeps "
            "generation %d until the reload commits)", projection.value, generation, topic, held,
        )  # fmt: skip
        started = time.perf_counter()
        outcome: list[int | None] = []

        async def reload() -> None:
            outcome.append(
                await self._store.switch(projection, generation, self._documents(topic, projection))
            )

        if not await self._retry(reload, stop):
            return False
        rows = outcome[-1]
        if rows is None:
            log.info("%s: another sink switched it to generation %d", projection.value, generation)
        else:
            log.info(
                "%s: now generation %d, %d rows, reloaded in %.1f s",
                projection.value, generation, rows, time.perf_counter() - started,
            )  # fmt: skip
        self._metrics.generation.labels(projection.value).set(generation)
        return True

    async def _documents(self, topic: str, projection: Projection) -> AsyncIterator[Staged]:
        """The topic's records from its beginning to its end as it is now, staged a
        consumer batch at a time."""
        s = self._settings
        parts = [TopicPartition(topic, p) for p in await partitions_of(s.kafka.bootstrap, topic)]
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka.bootstrap,
            client_id=f"{s.kafka.client_id}-sink-switch",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            consumer.assign(parts)
            ends = await consumer.end_offsets(parts)
            # explicit positions: an assign's own offset reset could land after a seek
            for tp, first in (await consumer.beginning_offsets(parts)).items():
                consumer.seek(tp, first)
            waiting = {tp for tp in parts if ends[tp] > 0}
            while waiting:
                batch = await consumer.getmany(
                    *waiting, timeout_ms=500, max_records=s.sink.batch_max_records
                )
                yield stage(
                    Incoming(projection, r.key, r.value)
                    for records in batch.values()
                    for r in records
                )
                for tp in list(waiting):
                    if await consumer.position(tp) >= ends[tp]:
                        waiting.discard(tp)
        finally:
            await consumer.stop()

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

    async def _wait_for_topics(self, stop: asyncio.Event, topics: list[str] | None = None) -> None:
        """Until the topics (default: the current ones) exist (subscribing to a missing
        topic could auto-create it uncompacted) and Kafka answers."""
        wanted = list(self._projections) if topics is None else topics
        while not stop.is_set():
            try:
                missing = await self._missing_topics(wanted)
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

    async def _missing_topics(self, topics: list[str]) -> list[str]:
        s = self._settings
        admin = AIOKafkaAdminClient(
            bootstrap_servers=s.kafka.bootstrap, client_id=f"{s.kafka.client_id}-sink-admin"
        )
        await admin.start()
        try:
            described = await admin.describe_topics(topics)
        finally:
            await admin.close()
        ready = {t["topic"] for t in described if t.get("error_code") == 0}
        return [t for t in topics if t not in ready]

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


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` unless `stop` is set first; False when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return not stop.is_set()
