"""Helpers shared by the ingress integration tests (this module holds no tests)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from aiokafka.structs import TopicPartition  # type: ignore[import-untyped]

from wxcc_stream.base.settings import Settings, with_overrides
from wxcc_stream.ingress.app import build_app
from wxcc_stream.ingress.main import shutdown_timeout_s
from wxcc_stream.ingress.publisher import RawPublisher
from wxcc_stream.schemas.signing import sign

SUB = "AXXbfkWZ331_GLMMoS3N"
# the vendor examples use three subscription ids; each gets its own secret here
EXAMPLE_SECRETS = {
    SUB: "secret-one-0123456789abcdef0123456789",
    "AXXbFkWZ331_GLMMoS3N": "secret-two-0123456789abcdef0123456789",
    "{subscriptionId}": "secret-three-0123456789abcdef012345678",
}
ROTATED = "secret-one-NEW-0123456789abcdef01234567"
SECRETS_SETTING = ",".join(
    f"{sub}={secret}|{ROTATED}" if sub == SUB else f"{sub}={secret}"
    for sub, secret in EXAMPLE_SECRETS.items()
)
ORG = "9dcb8657-ffad-45a1-9d8c-2f66e3b64f08"
_ids = itertools.count()


def ingress_settings(settings: Settings, **ingress: Any) -> Settings:
    """The test's settings with the example secrets and the given ingress overrides."""
    values: dict[str, Any] = {"secrets": SECRETS_SETTING, **ingress}
    return with_overrides(settings, ingress=with_overrides(settings.ingress, **values))


def signed_headers(
    body: bytes, secret: str | None = EXAMPLE_SECRETS[SUB], **extra: str
) -> dict[str, str]:
    """Content-Type JSON plus the WxCC signature (and any extra headers)."""
    headers = {"Content-Type": "application/json", **extra}
    if secret is not None:
        headers["X-WebexCC-Signature"] = sign(body, secret)
    return headers


def new_event(
    kind: str = "agent:state_change", *, n: int | None = None, **top: Any
) -> dict[str, Any]:
    """A fresh valid event with a unique id (agent or task, by `kind`)."""
    i = next(_ids) if n is None else n
    entity = (
        {"agentId": f"agent-{i % 7}"} if kind.startswith("agent") else {"taskId": f"task-{i % 7}"}
    )
    doc: dict[str, Any] = {
        "id": f"evt-{time.monotonic_ns()}-{i}",
        "specversion": "1.0",
        "type": kind,
        "source": f"/com/cisco/wxcc/{SUB}",
        "comciscoorgid": ORG,
        "datacontenttype": "application/json",
        "data": {**entity, "currentState": "available", "createdTime": 1_709_539_200_000 + i},
    }
    doc.update(top)
    return doc


@dataclass
class Running:
    """One ingress app served by a real AppRunner on 127.0.0.1 (port chosen by the OS)."""

    app: web.Application
    runner: web.AppRunner
    base: str
    path: str

    @property
    def url(self) -> str:
        return self.base + self.path

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_ingress(settings: Settings, *, publisher: RawPublisher | None = None) -> Running:
    """Build the app and serve it on a free loopback port."""
    app = build_app(settings, publisher=publisher)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout_s(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return Running(app, runner, f"http://127.0.0.1:{port}", settings.ingress.path)


@dataclass
class Outcome:
    """What each delivery of a traffic run got back."""

    statuses: dict[str, int] = field(default_factory=dict)  # event id -> status (0: no answer)
    retry_after: set[str] = field(default_factory=set)

    def with_status(self, predicate: Any) -> set[str]:
        return {i for i, s in self.statuses.items() if predicate(s)}


async def send_all(
    url: str,
    events: Iterable[dict[str, Any]],
    *,
    concurrency: int = 8,
    outcome: Outcome | None = None,
    pause_s: float = 0.0,
    timeout_s: float = 10.0,
    stop_on_error: bool = False,
) -> Outcome:
    """POST each event signed, `concurrency` at a time; record every answer (0: none).

    With `stop_on_error`, a worker stops at its first connection error (the server is gone).
    """
    outcome = outcome or Outcome()
    pending = iter(events)  # pulled lazily: one event loop, so no locking needed
    timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def worker(session: aiohttp.ClientSession) -> None:
        for doc in pending:
            body = orjson.dumps(doc)
            try:
                async with session.post(url, data=body, headers=signed_headers(body)) as resp:
                    await resp.read()
                    outcome.statuses[doc["id"]] = resp.status
                    if resp.status == 503 and resp.headers.get("Retry-After"):
                        outcome.retry_after.add(doc["id"])
            except (aiohttp.ClientError, TimeoutError):
                outcome.statuses[doc["id"]] = 0
                if stop_on_error:
                    return
            if pause_s:
                await asyncio.sleep(pause_s)

    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return outcome


def ids_of(values: Sequence[bytes]) -> list[str]:
    """The CloudEvent ids of stored raw values."""
    return [orjson.loads(v)["id"] for v in values]


async def topic_size(bootstrap: str, topic: str) -> int:
    """How many records a topic holds (end minus beginning offsets, over its partitions):
    exact for the ingress topics, whose idempotent producer writes no control records."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()  # subscribed: it fetches the topic's metadata
    try:
        for _ in range(50):
            known = consumer.partitions_for_topic(topic)
            if known:
                break
            await asyncio.sleep(0.2)
        parts = [TopicPartition(topic, p) for p in sorted(known or ())]
        assert parts, f"no metadata for topic {topic}"
        ends = await consumer.end_offsets(parts)
        starts = await consumer.beginning_offsets(parts)
    finally:
        await consumer.stop()
    return sum(ends[tp] - starts[tp] for tp in parts)
