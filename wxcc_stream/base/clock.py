"""Where "now" comes from: one injected clock for the ingress, the worker and the API."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "FixedClock", "SystemClock"]


class Clock(Protocol):
    """Epoch milliseconds (injected, so tests and replays can pin them)."""

    def now_ms(self) -> int:
        """The current time."""


class SystemClock:
    """The wall clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FixedClock:
    """A clock that says what it is told (tests, and replays of a recorded day)."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now
