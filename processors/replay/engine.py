"""The replay shell: aiokafka consumer group over the raw topic and the hop topic, the
pure core over each batch (`replay/state.py`), outputs sent as whole batches and acked
before anything that depends on them (docs/replay.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from wxcc_stream.base.kafka_topics import TopicSpec, ensure_topics
from wxcc_stream.base.partitioning import KeyPartitioner
from wxcc_stream.base.topic_log import read_partitions
from wxcc_stream.processors.replay.hops import encode_hop
from wxcc_stream.processors.replay.job import Progress, ReplayJob, Summary
from wxcc_stream.processors.replay.plan import (
    END_MARKER,
    HOP_KIND,
    Completion,
    Published,
    Range,
    revision_of,
)
from wxcc_stream.processors.replay.progress_log import ProgressLog
from wxcc_stream.processors.replay.state import Output, RawIn, Replayer
from wxcc_stream.processors.shell.produce import BatchProducer
from wxcc_stream.schemas.event import EntityKind

__all__ = ["run_replay"]

_KINDS = {kind.value.encode(): kind for kind in EntityKind}


async def run_replay(job: ReplayJob, progress: Progress | None = None) -> Summary:
    """Replay the job's range into its generation; returns once every partition is done
    (by this process or the others of its group)."""
    started = time.monotonic()
    log = ProgressLog(job.bootstrap, job.generations, job.generation)
    await ensure_topics(job.bootstrap, [_spec(job, job.generations, 1, compact=True)])
    span, seeded = await log.agree_range(job.raw, job.from_ms, job.to_ms, seed=job.seed is not None)
    seed = job.seed if seeded else None
    replay = _Replay(job, span, log, progress or Progress(), seed)
    if await log.finished(span.partitions) == set(range(span.partitions)):
        return Summary(job.generation, replay.core.tally, 0.0, (), already_complete=True)
    specs = _output_specs(job, span.partitions)
    specs += [_spec(job, t, span.partitions, compact=True) for t in (seed or {}).values()]
    await ensure_topics(job.bootstrap, specs)
    await replay.run()
    return Summary(
        job.generation, replay.core.tally, time.monotonic() - started, tuple(sorted(replay.mine))
    )


def _spec(job: ReplayJob, name: str, partitions: int, *, compact: bool) -> TopicSpec:
    configs = dict(job.topic_configs or {})
    if compact:
        configs["cleanup.policy"] = "compact"
    return TopicSpec(name, partitions, configs, job.replicas)


def _output_specs(job: ReplayJob, partitions: int) -> list[TopicSpec]:
    specs = [_spec(job, job.hops, partitions, compact=False)]
    specs += [_spec(job, t, partitions, compact=True) for t in job.projections.values()]
    specs += [_spec(job, t, partitions, compact=False) for t in (job.ordered or {}).values()]
    return specs


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, replay: _Replay) -> None:
        self._replay = replay

        self._held = False

    async def on_partitions_revoked(self, revoked: Any) -> None:
        if not self._held:  # no batch is half sent when the owner changes
            await self._replay.lock.acquire()
            self._held = True
        try:  # nor still in flight: a new owner's documents must land after ours
            await self._replay.settle()
        except Exception as exc:  # aiokafka would log it and go on: the loop raises it
            self._replay.failure = exc

    async def on_partitions_assigned(self, assigned: Any) -> None:
        try:
            await self._replay.reassigned({tp.partition for tp in assigned})
        except Exception as exc:  # aiokafka would log it and go on: the loop raises it
            self._replay.failure = exc
        finally:
            if self._held:
                self._held = False
                self._replay.lock.release()


class _Replay:
    """One process of a replay: its partitions, their positions and their state."""

    def __init__(
        self,
        job: ReplayJob,
        span: Range,
        log: ProgressLog,
        progress: Progress,
        seed: Mapping[EntityKind, str] | None = None,
    ) -> None:
        self.job, self.span, self.log, self.progress = job, span, log, progress
        self.seed = seed
        partitioner = KeyPartitioner()
        self.partitioner = partitioner
        self.core = Replayer(
            span.partitions, job.policy, partitioner.partition_of, job.cache_entries,
            ordered=job.ordered is not None,
        )  # fmt: skip
        self.completion = Completion(span.partitions)
        self.published = Published()
        self.lock = asyncio.Lock()
        self.next_raw: dict[int, int] = {}
        self.next_hop: dict[int, int] = {}
        self.mine: set[int] = set()  # partitions this process finished
        self.read = 0
        self.failure: Exception | None = None
        # the last batch's outputs, acked while the next batch is read and run
        self.in_flight: list[asyncio.Future[Any]] = []
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=job.bootstrap, group_id=job.group, enable_auto_commit=False,
            auto_offset_reset="earliest", partition_assignment_strategy=(RangePartitionAssignor,),
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )  # fmt: skip
        self.producer = AIOKafkaProducer(
            bootstrap_servers=job.bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
            max_batch_size=256 * 1024,
        )  # fmt: skip

    async def run(self) -> None:
        await self.producer.start()
        await self.consumer.start()
        try:
            self.consumer.subscribe([self.job.raw, self.job.hops], listener=_Listener(self))
            await self._loop()
        finally:
            await self.consumer.stop()
            await self.producer.stop()

    async def _loop(self) -> None:
        checked = 0.0
        while True:
            batch = await self.consumer.getmany(timeout_ms=200, max_records=self.job.batch_max)
            if self.failure is not None:
                raise self.failure
            async with self.lock:
                await self._batch(batch)
            owned = set(self.next_raw)
            if owned and owned <= self.completion.finished and time.monotonic() - checked > 0.5:
                checked = time.monotonic()
                if len(await self.log.finished(self.span.partitions)) == self.span.partitions:
                    return

    async def reassigned(self, partitions: set[int]) -> None:
        """A rebalance: forget the partitions lost, rebuild the new ones from the start of
        the range, and put every kept one back where it was (positions are our own)."""
        for lost in set(self.next_raw) - partitions:
            self.core.drop(lost)
            self.completion.forget(lost)
            del self.next_raw[lost], self.next_hop[lost]
        done = await self.log.finished(self.span.partitions)
        new = sorted(partitions - set(self.next_raw))
        for q in new:
            self.core.own(q)
            self.next_raw[q] = self.span.offsets[q][0]
            self.next_hop[q] = 0
            if q in done:
                self.completion.finished.add(q)
        await self._load_published(new)
        for q in partitions:
            raw, hops = TopicPartition(self.job.raw, q), TopicPartition(self.job.hops, q)
            self.consumer.seek(raw, self.next_raw[q])
            self.consumer.seek(hops, self.next_hop[q])
            # a new assignment fetches everything again: nothing more of what is read
            if q in self.completion.raw_done or q in self.completion.finished:
                self.consumer.pause(raw)
            if q in self.completion.finished:
                self.consumer.pause(hops)
        self.progress.started(
            sum(self.span.offsets[q][1] - self.span.offsets[q][0] for q in partitions)
        )

    async def _load_published(self, partitions: list[int]) -> None:
        # what an earlier run (or another owner) already sent: never send older documents
        if not partitions:
            return
        for kind, topic in self.job.projections.items():
            for key, value in await read_partitions(self.job.bootstrap, topic, partitions):
                if key is not None and value is not None:
                    self.published.saw(kind, key, value)

    async def _batch(self, batch: dict[Any, list[Any]]) -> None:
        raw: list[RawIn] = []
        hops: list[tuple[int, int, bytes, EntityKind, bytes]] = []
        for tp, records in batch.items():
            q = tp.partition
            if q not in self.next_raw or q in self.completion.finished:
                continue
            if tp.topic == self.job.raw:
                self._take_raw(q, records, raw)
            else:
                self._take_hops(q, records, hops)
        ticked = [q for q in self.next_raw if q not in self.completion.finished]
        if raw or hops:
            await self._send(self.core.take(raw, hops, ticked))
        self.read += len(raw)
        await self._mark_read_ends()
        for q in sorted(self.next_raw):
            if self.completion.complete(q):
                await self._finish(q)
        self.progress.advanced(self.read, self.core.tally)

    def _take_raw(self, q: int, records: Iterable[Any], raw: list[RawIn]) -> None:
        end = self.span.offsets[q][1]
        for r in records:
            if r.offset < self.next_raw[q] or r.offset >= end:
                continue
            raw.append(RawIn(q, r.offset, r.value, r.headers, r.timestamp))
            self.next_raw[q] = r.offset + 1

    def _take_hops(
        self, q: int, records: Iterable[Any], hops: list[tuple[int, int, bytes, EntityKind, bytes]]
    ) -> None:
        for r in records:
            if r.offset < self.next_hop[q]:
                continue
            self.next_hop[q] = r.offset + 1
            headers = dict(r.headers)
            if END_MARKER in headers:
                self.completion.marker(q, int(headers[END_MARKER]))
            elif r.key is not None and r.value is not None:
                hops.append((q, r.offset, r.key, _KINDS[headers[HOP_KIND]], r.value))

    async def _mark_read_ends(self) -> None:
        """Raw partitions read to their end: tell every hop partition (after their hops
        were acked, so a marker follows every hop of its partition)."""
        for p, position in self.next_raw.items():
            if p in self.completion.raw_done or position < self.span.offsets[p][1]:
                continue
            self.completion.raw_done.add(p)
            # live traffic keeps coming: fetch no further
            self.consumer.pause(TopicPartition(self.job.raw, p))
            await self.settle()
            futures = [
                await self.producer.send(
                    self.job.hops, b"", partition=q, headers=[(END_MARKER, b"%d" % p)]
                )
                for q in range(self.span.partitions)
            ]
            await asyncio.gather(*futures)

    async def _finish(self, q: int) -> None:
        if self.seed is None:
            await self._send(self.core.flush(q))
        else:
            # the worker of the generation takes over from here: its tables as they are,
            # held events included (its ticks release them), nothing flushed
            await self.settle()
            await self._seed(q)
        await self.settle()
        await self.log.mark_finished(q)
        self.completion.finished.add(q)
        self.mine.add(q)

    async def _seed(self, q: int) -> None:
        """Write partition q's table values to the generation's worker changelogs."""
        assert self.seed is not None
        out = BatchProducer(self.producer, self.partitioner)
        for kind, values in self.core.table_values(q).items():
            for key, value in values.items():
                await out.add(self.seed[kind], key, value, partition=q)
        self.in_flight = await out.send()

    async def settle(self) -> None:
        """Wait until every output sent so far is acknowledged (raises if one failed)."""
        futures, self.in_flight = self.in_flight, []
        await asyncio.gather(*futures)

    async def _send(self, output: Output) -> None:
        """Hand a batch's outputs to the producer, after the previous batch's were acked
        (so at most one batch is in flight: its acks overlap the next batch's work)."""
        await self.settle()
        out = BatchProducer(self.producer, self.partitioner)
        for hop in output.hops:
            body = encode_hop(hop.events)
            await out.add(self.job.hops, hop.key, body, ((HOP_KIND, hop.kind.value.encode()),))
        if self.job.ordered is not None:
            for kind, records in output.ordered.items():
                for o in records:
                    await out.add(self.job.ordered[kind], o.key, o.value, o.headers)
        for kind, documents in output.projections.items():
            for key, value in documents.items():
                revision = revision_of(value)
                if self.published.worth_sending(kind, key, revision, value):
                    await out.add(self.job.projections[kind], key, value)
        self.in_flight = await out.send()
