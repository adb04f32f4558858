"""Send prepared events over HTTP at a rate, with bounded concurrency, and count answers."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from wxcc_stream.devtools.simulator.prepare import Prepared, SigningKeys, prepare
from wxcc_stream.devtools.simulator.progress import Progress


@dataclass(frozen=True, slots=True)
class SendConfig:
    """How to send: where, how fast (events/s; None = as fast as possible), how many at once."""

    target: str
    rate: float | None = None
    concurrency: int = 16
    timeout_s: float = 10.0
    restamp: bool = True


@dataclass(frozen=True, slots=True)
class SendSummary:
    """What the target answered."""

    sent: int
    accepted: int
    by_status: Mapping[int, int]
    errors: int
    elapsed_s: float
    rejected_ids: tuple[str, ...] = field(default=(), repr=False)

    @property
    def rejected(self) -> int:
        return self.sent - self.accepted

    def lines(self) -> list[str]:
        """Human-readable summary."""
        rate = self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0
        out = [
            f"sent: {self.sent} in {self.elapsed_s:.1f} s ({rate:.0f} events/s)",
            f"accepted (2xx): {self.accepted}",
            f"rejected: {self.rejected}",
        ]
        out += [f"  HTTP {status}: {n}" for status, n in sorted(self.by_status.items()) if status]
        if self.errors:
            out.append(f"  no answer (connection error or timeout): {self.errors}")
        return out


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def send_events(
    events: Iterable[Mapping[str, Any]],
    config: SendConfig,
    keys: SigningKeys,
    *,
    progress: Progress | None = None,
    clock: Callable[[], int] = _now_ms,
) -> SendSummary:
    """POST each event (in the given order) and summarise the answers.

    Pacing: event `i` is started no earlier than `i / rate` seconds after the start, and
    never more than `concurrency` are in flight; each body is prepared (and a v2 event
    re-stamped) just before it is sent.
    """
    statuses: Counter[int] = Counter()
    rejected: list[str] = []
    semaphore = asyncio.Semaphore(config.concurrency)
    loop = asyncio.get_running_loop()
    started = loop.time()
    connector = aiohttp.TCPConnector(limit=config.concurrency)
    timeout = aiohttp.ClientTimeout(total=config.timeout_s)

    async def one(session: aiohttp.ClientSession, request: Prepared) -> None:
        try:
            async with session.post(
                config.target, data=request.body, headers=dict(request.headers)
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            status = 0
        finally:
            semaphore.release()
        statuses[status] += 1
        ok = 200 <= status < 300
        if not ok:
            rejected.append(request.event_id)
        if progress is not None:
            progress.update(accepted=ok)

    tasks: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []

    def finished(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            failures.append(error)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for i, event in enumerate(events):
            if config.rate:
                delay = started + i / config.rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            await semaphore.acquire()
            request = prepare(event, keys, now_ms=clock(), restamp=config.restamp)
            task = asyncio.create_task(one(session, request))
            tasks.add(task)
            task.add_done_callback(finished)
        if tasks:
            await asyncio.gather(*tasks)
    if failures:  # a bug, not an HTTP outcome: do not hide it
        raise failures[0]
    if progress is not None:
        progress.close()
    sent = sum(statuses.values())
    accepted = sum(n for status, n in statuses.items() if 200 <= status < 300)
    return SendSummary(
        sent=sent,
        accepted=accepted,
        by_status=dict(statuses),
        errors=statuses.get(0, 0),
        elapsed_s=loop.time() - started,
        rejected_ids=tuple(rejected),
    )
