"""A small progress bar on stderr (a redrawn line on a terminal, periodic lines otherwise)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts sent / accepted / rejected and redraws at most every `interval_s`."""

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        width: int = 30,
        interval_s: float | None = None,
        enabled: bool = True,
    ) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval_s = interval_s if interval_s is not None else (0.1 if self.tty else 5.0)
        self.enabled = enabled
        self.sent = self.accepted = self.rejected = 0
        self._started = time.monotonic()
        self._last_draw = 0.0

    def update(self, *, accepted: bool) -> None:
        """One more answered request."""
        self.sent += 1
        if accepted:
            self.accepted += 1
        else:
            self.rejected += 1
        now = time.monotonic()
        if now - self._last_draw >= self.interval_s:
            self._last_draw = now
            self.draw()

    def line(self) -> str:
        """The current bar as text."""
        fraction = self.sent / self.total if self.total else 1.0
        filled = int(self.width * fraction)
        elapsed = max(time.monotonic() - self._started, 1e-9)
        return (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {self.sent}/{self.total} "
            f"{fraction:6.1%} {self.sent / elapsed:7.0f} ev/s "
            f"accepted {self.accepted} rejected {self.rejected}"
        )

    def draw(self) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line."""
        if not self.enabled:
            return
        self.draw()
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
