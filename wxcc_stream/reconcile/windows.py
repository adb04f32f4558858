"""Time windows the WxCC APIs accept: under 24 h each, and smaller where a window is full.

Pure: `split` cuts [start, end) into windows the activities API takes; `halve` splits one
that came back with the 10,000-record cap, so that busy hours are asked in smaller parts.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 24 * 3_600_000
MAX_WINDOW_MS = DAY_MS - 1  # `to - from` must be under 24 h


@dataclass(frozen=True, slots=True)
class Window:
    """[start, end) in epoch ms."""

    start: int
    end: int

    @property
    def length(self) -> int:
        """Its length in ms."""
        return self.end - self.start


def split(start: int, end: int, max_ms: int = MAX_WINDOW_MS) -> list[Window]:
    """Consecutive windows of at most `max_ms` covering [start, end)."""
    if max_ms < 1:
        raise ValueError("windows must be at least 1 ms long")
    return [Window(t, min(t + max_ms, end)) for t in range(start, end, max_ms)]


def halve(window: Window) -> tuple[Window, Window]:
    """The two halves of a window (a full one is asked again in parts)."""
    if window.length < 2:
        raise ValueError(f"cannot split a {window.length} ms window")
    middle = window.start + window.length // 2
    return Window(window.start, middle), Window(middle, window.end)
