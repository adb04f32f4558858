"""`KafkaFeed`: both compacted projection topics, from the beginning, then live.

No consumer group: every replica reads every partition itself (assigned, not
subscribed), so any number of replicas can run. Ready once it has read up to the end
offsets the topics had when it started.

It reads the generation of each projection that `<prefix>.generations` names current
(docs/replay.md), read when it connects and every `WXCC_API_GENERATION_CHECK_MS`; when
another one is promoted it calls `on_promote` (the API then stops with exit code 75, to be
started again on the new topics: a fresh view, as a replay may number revisions anew).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from wxcc_stream.api.entries import Kind
from wxcc_stream.api.feed import Feed, Record
from wxcc_stream.api.metrics import ApiMetrics
from wxcc_stream.base.settings import Settings
from wxcc_stream.base.topic_log import read_topic
from wxcc_stream.schemas.generations import current_generations

log = logging.getLogger("api.feed")
RETRY_S = 1.0


class KafkaFeed(Feed):
    """Reads the projection topics into the view in a background task."""

    def __init__(
        self,
        settings: Settings,
        metrics: ApiMetrics,
        on_promote: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(metrics, settings.api.change_log_size)
        self._settings = settings
        self._on_promote = on_promote
        self._generations: dict[str, int] | None = None
        self._kinds = self._topics(current_generations(()))
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._targets: dict[Any, int] = {}
        self._lag: int | None = None
        self.error: str | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="api-projection-feed")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def lag(self) -> int | None:
        return self._lag

    async def _run(self) -> None:
        while True:
            try:
                await self._connect()
                break
            except KafkaError as exc:
                self.error = f"Kafka: {exc}"
                log.warning("cannot read the projection topics yet (%s); retrying", exc)
            await asyncio.sleep(RETRY_S)
        self.error = None
        if self._on_promote is not None:
            self._watch = asyncio.create_task(self._watch_generations(), name="api-generations")
        await self._read_forever()

    def _topics(self, generations: dict[str, int]) -> dict[str, Kind]:
        t = self._settings.topic
        return {
            t.in_generation(t.agent_state, generations["agent-state"]): Kind.AGENT,
            t.in_generation(t.task_lifecycle, generations["task-lifecycle"]): Kind.TASK,
        }

    async def _current(self) -> dict[str, int]:
        s = self._settings
        try:
            return current_generations(await read_topic(s.kafka.bootstrap, s.topic.generations))
        except TimeoutError as exc:
            raise KafkaError(f"reading {s.topic.generations}: {exc}") from None

    async def _watch_generations(self) -> None:
        """Call `on_promote` once the generations topic names other generations."""
        assert self._on_promote is not None
        while True:
            await asyncio.sleep(self._settings.api.generation_check_ms / 1000)
            try:
                now = await self._current()
            except KafkaError as exc:
                log.warning("reading the generations topic failed (%s); trying again", exc)
                continue
            if now != self._generations:
                log.warning(
                    "another generation was promoted (%s, was %s): the API stops, to be "
                    "started again on its topics (exit code 75)", now, self._generations,
                )  # fmt: skip
                self._on_promote()
                return

    async def _connect(self) -> None:
        s = self._settings
        if self._generations is None:
            self._generations = await self._current()
            self._kinds = self._topics(self._generations)
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=s.kafka.bootstrap,
                client_id=f"{s.kafka.client_id}-api",
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",
                fetch_max_wait_ms=100,
                max_partition_fetch_bytes=4 * 1024 * 1024,
            )
            await self._consumer.start()
        consumer = self._consumer
        partitions = await self._partitions()
        every = [tp for tps in partitions.values() for tp in tps]
        consumer.assign(every)
        await consumer.seek_to_beginning(*every)
        changes = self.open_log({kind: len(tps) for kind, tps in partitions.items()})
        for tp, offset in (await consumer.beginning_offsets(every)).items():
            changes.start_at(self._kinds[tp.topic], tp.partition, offset)
        self._targets = dict(await consumer.end_offsets(every))
        log.info(
            "reading %s from the beginning (%d records to catch up)",
            ", ".join(self._kinds),
            sum(self._targets.values()),
        )

    async def _partitions(self) -> dict[Kind, list[TopicPartition]]:
        """The partitions of both topics, once the worker has created them."""
        s = self._settings
        admin = AIOKafkaAdminClient(
            bootstrap_servers=s.kafka.bootstrap, client_id=f"{s.kafka.client_id}-api-admin"
        )
        await admin.start()
        try:
            while True:
                described = await admin.describe_topics(list(self._kinds))
                found = {
                    t["topic"]: sorted(p["partition"] for p in t.get("partitions") or ())
                    for t in described
                    if t.get("error_code") == 0
                }
                missing = [t for t in self._kinds if not found.get(t)]
                if not missing:
                    break
                self.error = f"waiting for topics {', '.join(missing)} (the worker creates them)"
                log.info("%s", self.error)
                await asyncio.sleep(RETRY_S)
        finally:
            await admin.close()
        return {
            kind: [TopicPartition(topic, p) for p in found[topic]]
            for topic, kind in self._kinds.items()
        }

    async def _read_forever(self) -> None:
        consumer = self._consumer
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            except KafkaError as exc:
                log.warning("reading the projection topics failed (%s); retrying", exc)
                await asyncio.sleep(RETRY_S)
                continue
            records = [
                Record(self._kinds[tp.topic], tp.partition, r.offset, r.key, r.value, r.timestamp)
                for tp, rs in batch.items()
                for r in rs
            ]
            self.apply(records)
            await self._update_lag()

    async def _update_lag(self) -> None:
        consumer = self._consumer
        lag = 0
        behind_target = False
        for tp in self._targets:
            position = await consumer.position(tp)
            end = consumer.last_stable_offset(tp)
            if end is not None:
                lag += max(0, end - position)
            if position < self._targets[tp]:
                behind_target = True
        self._lag = lag
        self.metrics.lag.set(lag)
        if not self.caught_up and not behind_target:
            self.caught_up = True
            self.metrics.caught_up.set(1)
            self.metrics.set_sizes(len(self.view.agents.entries), len(self.view.tasks.entries))
            log.info(
                "caught up: %d agents, %d tasks",
                len(self.view.agents.entries),
                len(self.view.tasks.entries),
            )
