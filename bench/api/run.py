"""Memory of 10,000 agents and 100,000 tasks in the API's view, and the time from a change
being applied to its event reaching a stream client, against a baseline in the same run.

Run each part in its own process (`--part memory` / `--part latency`) or both (default).
Figures are printed, never asserted: the development machine's cores are shared.

Memory: RSS of this process before and after the documents (shaped like the generator's)
are applied to a MemoryFeed; baseline: the same documents held as a plain dict of bytes.
Latency: an in-process API app (aiohttp, MemoryFeed) and one SSE client over loopback;
each change is applied and the client's receive time taken; baseline: an aiohttp handler
that writes the same bytes to a plain chunked response.
Kafka (`--part kafka`): the whole path on a real broker (started privately unless
`--bootstrap`): a projection record produced -> the change on the API's stream, against a
bare aiokafka consumer of the same topic. In production the API's metric
wxcc_api_visible_seconds measures the same path from the record's Kafka timestamp.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import time
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from wxcc_stream.api.app import build_app
from wxcc_stream.api.entries import Kind
from wxcc_stream.api.feed import MemoryFeed
from wxcc_stream.api.metrics import ApiMetrics
from wxcc_stream.base.settings import load_settings, with_overrides
from wxcc_stream.devtools.broker.process import free_port

TOKEN = "bench-token-0123456789abcdef"


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _agent(i: int) -> dict[str, Any]:
    return {
        "agentId": f"agent-{i:06d}-0000-4000-8000-000000000000", "orgId": "org-0000",
        "teamId": f"team-{i % 200:04d}", "loggedIn": True, "state": "available",
        "stateSince": 1_709_539_200_000 + i, "idleCodeId": None, "wrapUpAuxCodeId": "1234",
        "taskIds": [], "connectedChannels": ["c1", "c2"], "destination": "5551234567",
        "profileType": "BLENDED", "sessionStart": 1_709_539_200_000,
        "timeInState": {"available": 100_000, "connected": 200_000, "idle": 50_000,
                        "ringing": 9_000, "wrapup": 30_000},
        "lastEventTime": 1_709_539_200_000 + i, "lastEventId": f"e-{i:012d}",
        "revision": 105, "schema_version": 1,
    }  # fmt: skip


def _task(i: int) -> dict[str, Any]:
    t0 = 1_709_539_200_000 + i * 1000
    leg = {"state": "done", "since": t0 + 400_000,
           "timeInState": {"connected": 300_000, "ringing": 5_000, "wrapup": 60_000},
           "wrapUpAuxCodeId": "5678"}  # fmt: skip
    return {
        "taskId": f"task-{i:07d}-0000-4000-8000-000000000000", "orgId": "org-0000",
        "channelType": "telephony", "direction": "INBOUND", "outboundType": None,
        "origin": "+15551234567", "destination": "+18005550000", "queueId": f"AXqueue{i % 50:04d}",
        "status": "ended", "newTime": t0, "parkedTime": t0 + 500, "connectTime": t0 + 9_000,
        "connectedTime": t0 + 14_000, "endedTime": t0 + 314_000, "queueWaitMs": 8_500,
        "ringMs": 5_000, "talkMs": 280_000, "holdCount": 1, "holdMs": 20_000,
        "consultCount": 0, "conferenceCount": 0, "wrapUpMs": 60_000,
        "agentIds": ["agent-000001-0000-4000-8000-000000000000"],
        "legs": {"agent-000001-0000-4000-8000-000000000000": leg},
        "terminatingParty": "Customer", "reason": "Customer left",
        "captures": [f"https://recordings.example/{i}.wav"],
        "lastEventTime": t0 + 400_000, "lastEventId": f"t-{i:012d}", "revision": 9,
        "schema_version": 1,
    }  # fmt: skip


def _exact(value: bytes) -> bytes:
    """A copy of exactly its length: orjson's bytes keep their whole output buffer (~16 KB
    here), while the values aiokafka hands over are exact copies."""
    return bytes(memoryview(value))


def _documents(agents: int, tasks: int) -> Any:
    for i in range(agents):
        doc = _agent(i)
        yield Kind.AGENT, doc["agentId"], _exact(orjson.dumps(doc))
    for i in range(tasks):
        doc = _task(i)
        yield Kind.TASK, doc["taskId"], _exact(orjson.dumps(doc))


def memory(agents: int, tasks: int) -> None:
    """RSS of the view, against the size of the documents' JSON (what any holder of the
    documents needs at least). Documents are made one at a time, so nothing else holds them."""
    before = _rss_mib()
    feed = MemoryFeed(ApiMetrics(), change_log_size=20_000)
    size = 0
    started = time.perf_counter()
    for kind, key, value in _documents(agents, tasks):
        size += len(value)
        feed.put(kind, key, value)
    took = time.perf_counter() - started
    after = _rss_mib()
    print(f"documents: {agents:,} agents + {tasks:,} tasks: {size / 2**20:.0f} MiB of JSON "
          "(baseline: the bytes alone)")  # fmt: skip
    print(f"API view (bytes, entries, indexes, change log): +{after - before:.0f} MiB = "
          f"{(after - before) * 2**20 / size:.1f}x the JSON; process RSS {after:.0f} MiB "
          "(target < 1024 MiB)")  # fmt: skip
    print(f"applied at {(agents + tasks) / took:,.0f} documents/s ({took:.1f} s)")


async def _client(url: str, headers: dict[str, str], count: int, got: list[float]) -> None:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        async for line in response.content:
            if line.startswith(b"data:"):
                got.append(time.perf_counter())
                if len(got) >= count:
                    return


async def latency(changes: int) -> None:
    """Applied -> received by an SSE client, against a bare chunked handler."""
    base = load_settings({})
    port = free_port()
    settings = with_overrides(base, api=with_overrides(base.api, port=port, tokens=f"{TOKEN}=*"))
    feed = MemoryFeed(ApiMetrics())
    runner = web.AppRunner(build_app(settings, feed=feed), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        ours = await _measure(
            f"http://127.0.0.1:{port}/stream?kind=agent", {"Authorization": f"Bearer {TOKEN}"},
            changes, lambda i, doc: feed.put(Kind.AGENT, doc["agentId"], orjson.dumps(doc)),
            greeting=1,  # the stream's `ready` event
        )  # fmt: skip
    finally:
        await runner.cleanup()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    async def bare(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        while True:
            await response.write(b"data: " + await queue.get() + b"\r\n\r\n")

    app = web.Application()
    app.router.add_get("/", bare)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        baseline = await _measure(f"http://127.0.0.1:{port}/", {}, changes,
                                  lambda i, doc: queue.put_nowait(orjson.dumps(doc)))  # fmt: skip
    finally:
        await runner.cleanup()
    for name, values in (("bare chunked handler (baseline)", baseline), ("API stream", ours)):
        report(name, values)
    print(f"ratio p50 API/baseline: {statistics.median(ours) / statistics.median(baseline):.1f}x"
          " (target: visible within 100 ms)")  # fmt: skip


def report(name: str, seconds: list[float], width: int = 32) -> None:
    """One line of latency percentiles (p50, p99, max) in milliseconds."""
    ms = sorted(v * 1000 for v in seconds)
    print(f"{name:{width}s} p50 {statistics.median(ms):6.2f} ms  p99 "
          f"{ms[int(len(ms) * 0.99) - 1]:6.2f} ms  max {ms[-1]:6.2f} ms")  # fmt: skip


async def _measure(
    url: str, headers: dict[str, str], changes: int, apply: Any, greeting: int = 0
) -> list[float]:
    got: list[float] = []
    client = asyncio.create_task(_client(url, headers, changes + greeting, got))
    await asyncio.sleep(0.5)  # connected, "ready" sent
    sent: list[float] = []
    for i in range(changes):
        doc = _agent(i) | {"revision": 1000 + i}
        sent.append(time.perf_counter())
        apply(i, doc)
        await asyncio.sleep(0.01)
    await asyncio.wait_for(client, 30)
    received = got[-changes:]
    return [r - s for s, r in zip(sent, received, strict=True)]


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument(
        "--part", choices=("memory", "latency", "kafka", "both", "all"), default="both",
        help="both: memory + latency; all: also the Kafka leg on a real broker",
    )  # fmt: skip
    parser.add_argument("--bootstrap", help="an existing broker for --part kafka")
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=500)
    args = parser.parse_args()
    if args.part in ("latency", "both", "all"):
        asyncio.run(latency(args.changes))
    if args.part in ("kafka", "all"):
        from bench.api.kafka_leg import kafka_latency  # needs the broker jars

        asyncio.run(kafka_latency(args.changes, args.bootstrap))
    if args.part in ("memory", "both", "all"):
        memory(args.agents, args.tasks)
    return 0
