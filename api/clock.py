"""Where "now" comes from: the one clock of `wxcc_stream.base.clock`."""

from __future__ import annotations

from wxcc_stream.base.clock import Clock, FixedClock, SystemClock

__all__ = ["Clock", "FixedClock", "SystemClock"]
