"""The live worker follows the generations topic: once both projections are promoted to another
generation, it stops so that it starts again on that one (docs/replay.md, "Following a
promoted generation live").

The generation is chosen at start (`resolve_generation`): the worker's app id, streams,
tables and output topics are those of one generation, and a generation built with another
partition count cannot be taken over by a running Faust app. So the switch is a restart:
the worker stops cleanly (its commit guard commits what it finished) and exits with
`SWITCH_EXIT_CODE`; `wxcc-stream run` and the compose service start it again.
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError

from wxcc_stream.base.settings import Settings, with_overrides
from wxcc_stream.base.topic_log import read_topic
from wxcc_stream.processors.replay.generations import Generations, LiveGeneration, live_generation

__all__ = ["SWITCH_EXIT_CODE", "GenerationSwitch", "resolve_generation", "watch_generations"]

log = logging.getLogger(__name__)

SWITCH_EXIT_CODE = 75
"""The worker's exit code when it stopped to run another generation: start it again
(sysexits' EX_TEMPFAIL)."""


@dataclass(slots=True)
class GenerationSwitch:
    """The generation a following worker runs, and the one it stopped for (if it did)."""

    running: int
    stopped_for: LiveGeneration | None = None


async def current_live_generation(settings: Settings) -> LiveGeneration:
    """What the generations topic names for the live worker now."""
    records = await read_topic(settings.kafka.bootstrap, settings.topic.generations)
    return live_generation(Generations.fold(records))


def in_generation(settings: Settings, live: LiveGeneration) -> Settings:
    """`settings` for a worker of `live` (its number, and its partition count from 2 on)."""
    topic = settings.topic
    if live.partitions is not None:
        topic = with_overrides(topic, partitions=live.partitions)
    return with_overrides(
        settings, worker=with_overrides(settings.worker, generation=live.number), topic=topic
    )


async def resolve_generation(settings: Settings) -> tuple[Settings, GenerationSwitch | None]:
    """Settings for the generation to run, and the switch to watch (None when the
    generation was given: `WXCC_WORKER_GENERATION` N >= 1 pins it)."""
    if settings.worker.generation >= 1:
        return settings, None
    live = await current_live_generation(settings)
    return in_generation(settings, live), GenerationSwitch(live.number)


def watch_generations(app: Any, settings: Settings, switch: GenerationSwitch) -> None:
    """Read the generations topic every `WXCC_WORKER_GENERATION_CHECK_MS`; on a switch,
    stop the worker (SIGTERM to itself: Faust's own clean shutdown)."""

    async def check() -> None:
        if switch.stopped_for is not None:
            return
        try:
            live = await current_live_generation(settings)
        except (KafkaError, TimeoutError, OSError) as exc:
            log.warning("reading the generations topic failed (%s); trying again", exc)
            return
        if live.number == switch.running:
            return
        switch.stopped_for = live
        log.warning(
            "generation %d is now current for both projections: this worker of generation "
            "%d stops, to be started again on it (exit code %d)",
            live.number, switch.running, SWITCH_EXIT_CODE,
        )  # fmt: skip
        os.kill(os.getpid(), signal.SIGTERM)

    app.timer(settings.worker.generation_check_ms / 1000.0, name="wxcc-generations")(check)
