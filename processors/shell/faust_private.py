"""Every use of Faust's private API, in one place, pinned to faust-streaming 0.15.3.

The worker reaches into Faust where its public API cannot do the job (docs/processors.md,
"Faust's private API"): which partition a table write goes to, the transport producer for
whole-batch sends, the offsets the consumer commits, and the committed offsets read on the
consumer's thread. `missing_private_api()` lists what a Faust upgrade took away; a unit
test runs it, so an upgrade that breaks any of these fails loudly, not in production.
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import faust
from faust import streams
from faust.transport import consumer as transport_consumer
from faust.transport.drivers import aiokafka as aiokafka_driver

from wxcc_stream.processors.errors import ProcessorError

__all__ = [
    "FAUST_VERSION",
    "UnsupportedFaust",
    "acting_for",
    "committed_offsets",
    "missing_private_api",
    "replace_commit_filter",
    "transport_producer",
]

FAUST_VERSION = "0.15.3"
"""The version whose internals this module was written against (pinned in pyproject)."""

_GUARDED = "_wxcc_commit_guard"


class UnsupportedFaust(ProcessorError):
    """The installed Faust lacks an internal this module uses (another Faust version)."""


def missing_private_api() -> list[str]:
    """The private names this module uses that the installed Faust does not have."""
    consumer, driver = transport_consumer.Consumer, aiokafka_driver
    checks = {
        "faust.streams._current_event": hasattr(streams, "_current_event"),
        "aiokafka Producer._ensure_producer": hasattr(driver.Producer, "_ensure_producer"),
        "Consumer._filter_committable_offsets": hasattr(consumer, "_filter_committable_offsets"),
        "Consumer._committed_offset": "self._committed_offset"
        in inspect.getsource(consumer.__init__),
        "ThreadDelegateConsumer._thread": "self._thread"
        in inspect.getsource(transport_consumer.ThreadDelegateConsumer.__init__),
        "AIOKafkaConsumerThread._ensure_consumer": hasattr(
            driver.AIOKafkaConsumerThread, "_ensure_consumer"
        ),
        "AIOKafkaConsumerThread.call_thread": hasattr(driver.AIOKafkaConsumerThread, "call_thread"),
    }
    missing = [name for name, present in checks.items() if not present]
    if faust.__version__ != FAUST_VERSION:
        missing.append(f"faust-streaming {FAUST_VERSION} (installed: {faust.__version__})")
    return missing


@contextmanager
def acting_for(event: Any) -> Iterator[None]:
    """Make `event` the current event, so table writes go to its partition.

    `take_events` hands the agent a list of events but leaves no current event in the
    agent's own task; Faust picks the changelog partition (and RocksDB its database) from
    the current event.
    """
    token = streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        streams._current_event.reset(token)


def transport_producer(app: Any) -> Any:
    """The app's AIOKafkaProducer, for `create_batch`/`send_batch` (no Faust channel)."""
    return app.producer._ensure_producer()


def replace_commit_filter(
    consumer: Any, offsets: Callable[[Iterable[Any], Callable[[Any], int | None]], dict[Any, int]]
) -> None:
    """Make `consumer` commit `offsets(tps, last_committed)` (idempotent).

    Faust's own filter still runs first, so its ack bookkeeping stays bounded; its result
    is not used. `last_committed(tp)` is the offset Faust last committed for `tp`.
    """
    if getattr(consumer, _GUARDED, False):
        return
    faust_offsets = getattr(consumer, "_filter_committable_offsets", None)
    committed = getattr(consumer, "_committed_offset", None)
    if faust_offsets is None or committed is None:
        raise UnsupportedFaust(
            "this Faust consumer has no _filter_committable_offsets/_committed_offset: "
            f"the commit guard needs faust-streaming {FAUST_VERSION}"
        )

    def guarded(tps: Iterable[Any]) -> dict[Any, int]:
        wanted = list(tps)
        faust_offsets(wanted)  # prunes Faust's acked offsets; the result is not ours
        return offsets(wanted, committed.get)

    consumer._filter_committable_offsets = guarded
    setattr(consumer, _GUARDED, True)


async def committed_offsets(consumer: Any, tps: list[Any]) -> list[int | None]:
    """The group's committed offset of each partition, asked on the consumer's thread."""
    thread = consumer._thread
    client = thread._ensure_consumer()
    found = await asyncio.gather(*(thread.call_thread(client.committed, tp) for tp in tps))
    return list(found)
