"""In-memory `RawPublisher` for tests and for running ingress without Kafka."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from wxcc_stream.ingress.errors import PublishError
from wxcc_stream.ingress.records import OutRecord


class MemoryPublisher:
    """Keeps records in a list; can be told to fail or to be slow (outage drills)."""

    def __init__(self) -> None:
        self.records: list[OutRecord] = []
        self.failing = False
        self.delay_s = 0.0
        self.started = False
        self.stopped = False
        self.in_flight = 0  # publish calls not finished yet

    async def start(self) -> None:
        self.started = True

    async def publish(self, records: Sequence[OutRecord]) -> None:
        self.in_flight += 1
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.failing or self.stopped:
                raise PublishError("memory publisher is failing")
            self.records.extend(records)
        finally:
            self.in_flight -= 1

    async def ready(self) -> bool:
        return self.started and not self.failing and not self.stopped

    async def stop(self) -> None:
        self.stopped = True

    def on(self, topic: str) -> list[OutRecord]:
        """The records stored on one topic, in order."""
        return [r for r in self.records if r.topic == topic]
