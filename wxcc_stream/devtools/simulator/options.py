"""Parsing of the simulator's textual options (durations, fractions, start time). Pure."""

from __future__ import annotations

import re
from datetime import datetime

from wxcc_stream.devtools.simulator.errors import SimulatorError

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration_ms(text: str) -> int:
    """`500ms`, `90s`, `30m`, `8h`, `1d` (a bare number is seconds) -> milliseconds."""
    match = _DURATION.match(text)
    if not match:
        raise SimulatorError(f"not a duration: {text!r} (use e.g. 500ms, 90s, 30m, 8h)")
    value, unit = match.groups()
    return round(float(value) * _UNITS_MS[unit or "s"])


def parse_fraction(text: str, name: str) -> float:
    """`0.05` or `5%` -> 0.05, within [0, 1]."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise SimulatorError(f"{name}: not a fraction: {text!r} (use e.g. 0.05 or 5%)") from None
    if not 0.0 <= value <= 1.0:
        raise SimulatorError(f"{name}: must be within [0, 1], got {text!r}")
    return value


def parse_start_ms(text: str, now_ms: int) -> int:
    """When the simulated day starts: `now`, `now-30m`, an ISO time or epoch milliseconds.

    `now-DURATION` makes the simulated period end about when sending starts, so a demo's
    "today" figures, time in state and freshness read like a live contact center.
    """
    raw = text.strip()
    if raw == "now" or raw.startswith("now-"):
        back = parse_duration_ms(raw[4:]) if raw != "now" else 0
        return max(0, now_ms - back)
    if raw.isdigit():
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise SimulatorError(
            f"--start: not a time: {text!r} (use now, now-30m, 2024-03-04T08:00:00Z or epoch ms)"
        ) from None
    if moment.tzinfo is None:
        raise SimulatorError(f"--start: give a time zone, e.g. {raw}Z")
    return round(moment.timestamp() * 1000)
