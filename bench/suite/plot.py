"""The run's PNG: throughput and p99 over the soak, and every process's RSS, with the
soak's faults marked."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def soak_png(doc: Mapping[str, Any], path: Path, title: str) -> None:
    """Draw a `bench.soak --json` document into `path`."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    fig, (rate, p99, rss) = plt.subplots(3, 1, sharex=True, figsize=(10, 9))
    fig.suptitle(title)
    if doc["accepted_per_s"]:
        t, v = zip(*doc["accepted_per_s"], strict=True)
        rate.plot(t, v, drawstyle="steps-post", label="2xx answers/s")
    rate.axhline(doc["rate"], color="grey", linestyle=":", label="rate asked")
    rate.set_ylabel("events/s")
    rate.legend(loc="upper right")
    if doc["answer_p99_ms"]:
        t, v = zip(*doc["answer_p99_ms"], strict=True)
        p99.plot(t, v, marker=".", label="ingress answer p99 (5 s windows)")
    p99.set_ylabel("ms")
    p99.set_yscale("log")
    p99.legend(loc="upper right")
    for name, points in doc["rss_mib"].items():
        if points:
            t, v = zip(*points, strict=True)
            rss.plot(t, v, label=name)
    rss.set_ylabel("RSS MiB")
    rss.set_xlabel("seconds since the traffic began")
    rss.legend(loc="lower right", fontsize="small")
    for what, at in doc["faults"]:
        for ax in (rate, p99, rss):
            ax.axvline(at, color="red", alpha=0.4, linestyle="--")
        rate.annotate(what, (at, rate.get_ylim()[1]), rotation=90, va="top", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
