"""The baseline: a bare Faust agent that forwards every raw record, nothing else.

    python -m bench.processor.passthrough BOOTSTRAP TOPIC COUNT

Same Faust settings as the real worker where they matter (producer linger, take_events
batches, raw serializers); prints one JSON line with the time of the first and the last of
COUNT records, then stops.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import uuid
from typing import Any

import faust
import orjson

from wxcc_stream.base.event_loop import new_event_loop
from wxcc_stream.base.gc_tuning import tune_garbage_collector


def build(bootstrap: str, topic: str, count: int) -> faust.App:
    """A pass-through app over `topic` that reports after `count` records."""
    app = faust.App(
        f"bench-passthrough-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        producer_linger=0.005,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        datadir=f"/tmp/bench-passthrough-{os.getpid()}",
    )
    source = app.topic(topic, key_type=bytes, value_type=bytes)
    sink = app.topic(f"{topic}.passthrough", key_type=bytes, value_type=bytes, partitions=4)
    seen = {"n": 0, "first": 0.0}

    async def forward(stream: Any) -> None:
        await sink.maybe_declare()
        async for events in stream.take_events(1000, 0.05):
            if not seen["first"]:
                seen["first"] = time.time()
            for event in events:
                await sink.send(key=event.key, value=event.value)
            seen["n"] += len(events)
            if seen["n"] >= count:
                print(
                    orjson.dumps(
                        {"first": seen["first"], "last": time.time(), "count": seen["n"]}
                    ).decode(),
                    flush=True,
                )
                os.kill(os.getpid(), signal.SIGTERM)
                return

    app.agent(source, name="passthrough")(forward)
    return app


def main(argv: list[str]) -> int:
    bootstrap, topic, count = argv[0], argv[1], int(argv[2])
    # the same event loop as `wxcc-stream worker` (uvloop when installed)
    loop = new_event_loop()

    class Worker(faust.Worker):
        def on_setup_root_logger(self, logger: Any, level: int) -> None:
            self.spinner = None  # as in `wxcc-stream worker`: no DEBUG root logger

    worker = Worker(build(bootstrap, topic, count), loglevel="WARNING", quiet=True, loop=loop)
    tune_garbage_collector()  # the same process tuning as the real worker, for a fair ratio
    with contextlib.suppress(SystemExit):
        worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
