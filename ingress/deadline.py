"""The publish deadline: tasks still waiting for the store past it are cancelled.

Every delivery waits at most the same time, so deadlines expire in arrival order: one
deque and one timer serve them all, where `asyncio.timeout` schedules (and cancels) a
timer per request, a measurable share of the ingress's CPU at a few thousand requests
per second.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Deadline:
    """One task's wait; `expired` once the deadline cancelled it."""

    __slots__ = ("at", "expired", "task")

    def __init__(self, at: float, task: asyncio.Task[object] | None) -> None:
        self.at = at
        self.task = task
        self.expired = False


class Deadlines:
    """Cancels each watched task that is still watched `timeout_s` after it started.

    Use `watch` right before the await and `release` right after it (in `finally`);
    a task cancelled by its deadline sees `CancelledError` at that await, and
    `expired` on its Deadline tells it apart from any other cancellation.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._waits: deque[Deadline] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch(self, task: asyncio.Task[object]) -> Deadline:
        """Start the clock for `task` (the current one)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        wait = Deadline(loop.time() + self.timeout_s, task)
        waits = self._waits
        # Waits end in about the order they start: drop the ended ones at the head now, so
        # the deque holds about the waits in flight rather than a deadline's worth of
        # requests (which would also outlive young garbage collections, and cost there).
        while waits and waits[0].task is None:
            waits.popleft()
        waits.append(wait)
        if self._timer is None:
            self._timer = loop.call_at(wait.at, self._expire)
        return wait

    @property
    def held(self) -> int:
        """Waits held: those in flight, and ended ones not dropped yet."""
        return len(self._waits)

    @staticmethod
    def release(wait: Deadline) -> None:
        """The wait is over (stored, failed or cancelled): the deadline no longer applies."""
        wait.task = None

    def _expire(self) -> None:
        self._timer = None
        loop = self._loop
        assert loop is not None
        now = loop.time()
        waits = self._waits
        while waits:
            wait = waits[0]
            if wait.task is not None and wait.at > now:
                # the oldest wait still running: the next one to expire
                self._timer = loop.call_at(wait.at, self._expire)
                return
            waits.popleft()
            if wait.task is not None:
                wait.expired = True
                wait.task.cancel()
                wait.task = None

    def close(self) -> None:
        """Stop the timer (the app is shutting down)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waits.clear()
