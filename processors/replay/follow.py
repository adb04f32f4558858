"""The live worker follows the generations topic: once both projections are promoted to another
generation, it stops so that it starts again on that one (docs/replay.md, "Following a
promoted generation live").

The generation is chosen at start (`resolve_generation`): the worker's app id, streams,
tables and output topics are those of one generation, and a generation built with another
partition count cannot be taken over by a running Faust app. So the switch is a restart:
the worker stops cleanly (its commit guard commits what it finished) and exits with
`RESTART_EXIT_CODE`; `wxcc-stream run` and the compose service start it again.
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from wxcc_stream.base.restart import RESTART_EXIT_CODE
from wxcc_stream.base.settings import Settings, SettingsError, with_overrides
from wxcc_stream.base.topic_log import read_topic
from wxcc_stream.processors.replay.generations import Generations, LiveGeneration, live_generation
from wxcc_stream.processors.shell.app import app_id
from wxcc_stream.processors.shell.topology import worker_generation

__all__ = [
    "GenerationSwitch",
    "resolve_generation",
    "settings_for_generation",
    "start_after_seed",
    "watch_generations",
]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class GenerationSwitch:
    """The generation a following worker runs, and the one it stopped for (if it did)."""

    running: int
    stopped_for: LiveGeneration | None = None


async def read_generations(settings: Settings) -> Generations:
    """What the generations topic says now."""
    return Generations.fold(await read_topic(settings.kafka.bootstrap, settings.topic.generations))


def settings_for_generation(settings: Settings, live: LiveGeneration) -> Settings:
    """`settings` for a worker of `live` (its number, and its partition count from 2 on)."""
    topic = settings.topic
    if live.partitions is not None:
        topic = with_overrides(topic, partitions=live.partitions)
    return with_overrides(
        settings, worker=with_overrides(settings.worker, generation=live.number), topic=topic
    )


async def resolve_generation(
    settings: Settings,
) -> tuple[Settings, GenerationSwitch | None, Generations | None]:
    """Settings for the generation to run, the switch to watch (None when the generation
    was given: `WXCC_WORKER_GENERATION` N >= 1 pins it; N >= 2 must be a known replay,
    whose partition count it takes), and the generations topic as read (None for 1)."""
    pinned = settings.worker.generation
    if pinned == 1:
        return settings, None, None
    state = await read_generations(settings)
    if pinned >= 2:
        span = state.ranges.get(pinned)
        if span is None or pinned in state.dropped:
            raise SettingsError(
                f"WXCC_WORKER_GENERATION={pinned}: no replay into generation {pinned} is known "
                "(`wxcc-stream generations list`)"
            )
        pinned_settings = settings_for_generation(settings, LiveGeneration(pinned, span.partitions))
        return pinned_settings, None, state
    live = live_generation(state)
    return settings_for_generation(settings, live), GenerationSwitch(live.number), state


async def start_after_seed(settings: Settings, state: Generations | None) -> bool:
    """For a worker of a seeded generation (its replay wrote its tables' changelogs) whose
    group has committed nothing yet: commit the replay's range end on every raw partition,
    so the worker starts where the seed ends. `state`: the generations topic, as
    `resolve_generation` read it. True when it did."""
    generation = worker_generation(settings)
    if generation < 2 or state is None:
        return False
    span = state.ranges.get(generation)
    if span is None or generation not in state.seeded or not state.complete(generation):
        return False
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap, group_id=app_id(settings),
        enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    try:
        ends = {TopicPartition(settings.topic.raw, p): end for p, (_, end) in span.offsets.items()}
        consumer.assign(list(ends))
        for tp in ends:
            if await consumer.committed(tp) is not None:
                return False  # it ran before: its own offsets stand
        await consumer.commit(ends)
    finally:
        await consumer.stop()
    log.info(
        "generation %d: tables seeded by its replay; the raw topic is read from the replay's "
        "range end %s", generation, {tp.partition: end for tp, end in ends.items()},
    )  # fmt: skip
    return True


def watch_generations(app: Any, settings: Settings, switch: GenerationSwitch) -> None:
    """Read the generations topic every `WXCC_WORKER_GENERATION_CHECK_MS`; on a switch,
    stop the worker (SIGTERM to itself: Faust's own clean shutdown)."""

    async def check() -> None:
        if switch.stopped_for is not None:
            return
        try:
            live = live_generation(await read_generations(settings))
        except (KafkaError, TimeoutError, OSError) as exc:
            log.warning("reading the generations topic failed (%s); trying again", exc)
            return
        if live.number == switch.running:
            return
        switch.stopped_for = live
        log.warning(
            "generation %d is now current for both projections: this worker of generation "
            "%d stops, to be started again on it (exit code %d)",
            live.number, switch.running, RESTART_EXIT_CODE,
        )  # fmt: skip
        os.kill(os.getpid(), signal.SIGTERM)

    app.timer(settings.worker.generation_check_ms / 1000.0, name="wxcc-generations")(check)
