"""The soak's figures over time, pure: answers per second, answer latency quantiles per
window, RSS in MiB; what the suite's PNG draws."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from bench.soak.checks import MIB, Answer, RssSample

Point = tuple[float, float]


def accepted_per_second(answers: Iterable[Answer], window_s: float = 1.0) -> list[Point]:
    """(window start, 2xx answers per second in it), every window up to the last answer
    (a window without one is 0: a stall shows)."""
    counts: dict[int, int] = {}
    last = -1
    for at, status in answers:
        slot = int(at // window_s)
        last = max(last, slot)
        if 200 <= status < 300:
            counts[slot] = counts.get(slot, 0) + 1
    return [(slot * window_s, counts.get(slot, 0) / window_s) for slot in range(last + 1)]


def quantile(values: Sequence[float], q: float) -> float:
    """The nearest-rank quantile of sorted `values` (q in [0, 1])."""
    rank = max(1, math.ceil(q * len(values)))
    return values[rank - 1]


def latency_quantile(
    latencies: Iterable[Point], q: float = 0.99, window_s: float = 5.0
) -> list[Point]:
    """(window start, the q-quantile of the answers' latency in ms) per window with answers."""
    slots: dict[int, list[float]] = {}
    for at, seconds in latencies:
        slots.setdefault(int(at // window_s), []).append(seconds * 1000)
    return [(slot * window_s, quantile(sorted(v), q)) for slot, v in sorted(slots.items())]


def rss_mib(rss: Mapping[str, Sequence[RssSample]]) -> dict[str, list[Point]]:
    return {name: [(s.at, s.rss / MIB) for s in samples] for name, samples in rss.items()}
