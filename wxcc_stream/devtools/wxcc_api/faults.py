"""Fault injection: which requests the simulator answers badly, decided by a seeded RNG.

The decision is a pure function of the settings and a random stream, so a seed gives the
same storm every run. Order of precedence: expire the caller's token, 429, 5xx, slow.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from wxcc_stream.devtools.wxcc_api.errors import ApiSimulatorError


class Fault(Enum):
    """What goes wrong with one request."""

    NONE = "none"
    EXPIRE_TOKEN = "expire-token"  # the caller's access token stops working now
    TOO_MANY = "429"
    SERVER_ERROR = "5xx"
    SLOW = "slow"


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """Shares (0..1) of data requests that fail each way; token requests never fail."""

    seed: int = 0
    too_many_share: float = 0.0
    retry_after_s: int = 1
    server_error_share: float = 0.0
    slow_share: float = 0.0
    slow_ms: int = 2_000
    expire_token_share: float = 0.0

    def __post_init__(self) -> None:
        for name in ("too_many_share", "server_error_share", "slow_share", "expire_token_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ApiSimulatorError(f"{name} must be within [0, 1], got {value}")
        if self.retry_after_s < 0 or self.slow_ms < 0:
            raise ApiSimulatorError("retry_after_s and slow_ms must not be negative")


class FaultPlan:
    """Draws one fault per data request from the settings' own random stream."""

    def __init__(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._rng = random.Random(f"wxcc-api-faults:{settings.seed}")

    def next(self) -> Fault:
        """The fault of the next request (one draw per kind, so shares are independent)."""
        s, draw = self.settings, self._rng.random
        draws = (
            (draw() < s.expire_token_share, Fault.EXPIRE_TOKEN),
            (draw() < s.too_many_share, Fault.TOO_MANY),
            (draw() < s.server_error_share, Fault.SERVER_ERROR),
            (draw() < s.slow_share, Fault.SLOW),
        )
        return next((fault for hit, fault in draws if hit), Fault.NONE)


@dataclass(slots=True)
class RateWindow:
    """The API's own limit: at most `limit` data requests in any `period_s` seconds.

    The vendor's is 300 a minute per client id (the simulator has one client)."""

    limit: int
    period_s: float = 60.0
    _times: deque[float] = field(default_factory=deque)

    def admit(self, now: float) -> int | None:
        """None: the request may go; else the whole seconds to wait (Retry-After)."""
        while self._times and self._times[0] <= now - self.period_s:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return max(1, math.ceil(self._times[0] + self.period_s - now))
        self._times.append(now)
        return None
