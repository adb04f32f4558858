"""What the soak checks at its end, as pure functions over what it observed: the answers
the ingress gave, the events it accepted and the raw topic holds, the processes' RSS.

`problems(observed)` lists every broken promise; an empty list is a passed soak. The
projections' comparison with the truth is made by the runner (it reads Kafka) and arrives
here as its difference text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

MIB = 1024 * 1024

Answer = tuple[float, int]
"""(seconds since the traffic began, HTTP status; 0: no answer)."""


@dataclass(frozen=True, slots=True)
class Window:
    """A span of the soak (seconds since the traffic began) in which 503s are explained."""

    start: float
    end: float
    why: str

    def holds(self, at: float) -> bool:
        return self.start <= at <= self.end


@dataclass(frozen=True, slots=True)
class RssSample:
    """One reading of a process's resident set (seconds since the traffic began, bytes)."""

    at: float
    rss: int


@dataclass
class Observed:
    """Everything the soak saw that the checks judge."""

    answers: Sequence[Answer]
    accepted: set[str]
    stored: set[str]
    unsent: Sequence[str]
    explained_503: Sequence[Window]
    projection_difference: str | None  # None: the projections equal the truth
    rss: Mapping[str, Sequence[RssSample]] = field(default_factory=dict)
    incidents: Sequence[str] = ()  # what the runner saw fail: a run's exit code, a dead worker


def unexplained_answers(answers: Iterable[Answer], windows: Sequence[Window]) -> list[Answer]:
    """Answers that are neither 2xx nor a 503 inside one of `windows` (no answer at all
    counts as unexplained too: WxCC would see a timeout)."""
    return [
        (at, status)
        for at, status in answers
        if not 200 <= status < 300 and not (status == 503 and any(w.holds(at) for w in windows))
    ]


def unstored(accepted: set[str], stored: set[str]) -> set[str]:
    """Event ids the ingress answered 2xx for that the raw topic does not hold."""
    return accepted - stored


def slope_per_minute(samples: Sequence[RssSample]) -> float | None:
    """Least-squares slope of RSS in MiB per minute (None with fewer than 2 instants)."""
    if len({s.at for s in samples}) < 2:
        return None
    n = len(samples)
    mean_t = sum(s.at for s in samples) / n
    mean_r = sum(s.rss for s in samples) / n
    cov = sum((s.at - mean_t) * (s.rss - mean_r) for s in samples)
    var = sum((s.at - mean_t) ** 2 for s in samples)
    return cov / var * 60 / MIB


def after_warmup(samples: Sequence[RssSample], share: float = 0.25) -> list[RssSample]:
    """The samples after the first `share` of the series' span: a process's start-up
    (imports, table restore, first batches) is growth, not a leak."""
    if not samples:
        return []
    first, last = samples[0].at, samples[-1].at
    cut = first + (last - first) * share
    return [s for s in samples if s.at >= cut]


def status_counts(answers: Iterable[Answer]) -> dict[int, int]:
    return dict(sorted(Counter(status for _, status in answers).items()))


def problems(observed: Observed) -> list[str]:
    """Every promise the soak saw broken, as a sentence; [] when it passed."""
    out = []
    bad = unexplained_answers(observed.answers, observed.explained_503)
    if bad:
        out.append(
            f"{len(bad)} answers neither 2xx nor an explained 503 "
            f"(503s explained in {[(w.why, w.start, w.end) for w in observed.explained_503]}): "
            f"{bad[:5]}"
        )
    if observed.unsent:
        out.append(f"{len(observed.unsent)} events never accepted: {list(observed.unsent)[:5]}")
    lost = unstored(observed.accepted, observed.stored)
    if lost:
        out.append(f"{len(lost)} accepted events are not in the raw topic: {sorted(lost)[:5]}")
    out += list(observed.incidents)
    if observed.projection_difference is not None:
        out.append(f"projections differ from the truth:\n{observed.projection_difference}")
    return out


def rss_lines(rss: Mapping[str, Sequence[RssSample]]) -> list[str]:
    """One line per process: first and last RSS, peak, and the slope after warm-up."""
    lines = []
    for name, samples in rss.items():
        if not samples:
            lines.append(f"{name}: no samples")
            continue
        slope = slope_per_minute(after_warmup(samples))
        shown = "n/a" if slope is None else f"{slope:+.2f} MiB/min"
        span = samples[-1].at - samples[0].at
        lines.append(
            f"{name}: RSS {samples[0].rss / MIB:.0f} -> {samples[-1].rss / MIB:.0f} MiB "
            f"(peak {max(s.rss for s in samples) / MIB:.0f}) over {span:.0f} s, "
            f"slope after warm-up {shown}"
        )
    return lines
