"""Benchmark: the pure core (`process_batch`) alone, fed decoded events in batches.

    python -m bench.core [--agents 50] [--tasks 2000] [--batch 500] [--repeat 3]
                         [--entities 200] [--histories 10,100,1000] [--rounds 20]

1. **day**: a generated day (`--agents`, `--tasks`), damaged (shuffled within 5 s, 10%
   duplicated, 2% late by 10 min, 2% resent by a second source), through `process_batch`
   for the agent and the task streams in batches of `--batch` records plus one timer tick
   per partition, with dicts as the tables and the worker's decoded-log cache. Printed: µs
   per event (best of `--repeat`), events/s, and the bytes written to the tables per event
   against the bytes published per event. The baseline of the same run: the projections'
   own folds over the same events, in order, without the core (dedupe, reorder, logs).
2. **history**: `--entities` agents, each with a retained history of each of
   `--histories` events (the horizon set to keep that many), take `--rounds` more events
   each; µs per event for each history length and the spread between them.

Targets (issue 21): <= 20 µs per event on the day; the history spread < 20%; table bytes
<= 2x the output bytes. Figures are printed; nothing is asserted.

The core runs as the worker runs it: compiled by mypyc when the build is current
(wxcc_stream/base/compiled_core.py; the first line says which). With the compiled core the
day is also timed on the interpreted one, in a subprocess, and the ratio printed
(`--no-compare` skips it; WXCC_COMPILED=0 times the interpreted core alone).
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence

from bench.core.workload import Arrival, batches, damaged_day, long_histories
from wxcc_stream.base.compiled_core import core_build
from wxcc_stream.base.gc_tuning import tune_garbage_collector
from wxcc_stream.processors.core.batch import BatchResult, Record, process_batch
from wxcc_stream.processors.core.log_cache import LogCache
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.projections.registry import KINDS
from wxcc_stream.schemas.event import EntityKind

TARGET_US = 20.0
CACHE_ENTRIES = 50_000  # the worker's default (WXCC_WORKER_LOG_CACHE_ENTRIES)

Batches = list[tuple[int, list[Record]]]


class Tally:
    """Time and bytes over a run of batches."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.events = 0
        self.written = 0
        self.output = 0

    def add(self, result: BatchResult, seconds: float) -> None:
        self.seconds += seconds
        self.events += result.stats.events_in
        self.written += sum(
            len(k) + len(v or b"") for part in result.writes.values() for k, v in part.items()
        )
        self.output += sum(len(p.key or b"") + len(p.value) for p in result.publications)

    @property
    def us_per_event(self) -> float:
        return self.seconds / max(1, self.events) * 1e6


def run_batches(kind: EntityKind, work: Batches, policy: Policy, timed: Batches = ()) -> Tally:  # type: ignore[assignment]
    """Feed `work` (untimed) then `timed` through a fresh table; the tally of `timed`, or of
    `work` when there is no `timed`."""
    table: dict[bytes, bytes] = {}
    cache = LogCache(CACHE_ENTRIES)
    tally = Tally()

    def feed(items: Batches, measure: bool) -> None:
        for now, records in items:
            t0 = time.perf_counter()
            result = process_batch(kind, records, table.get, now_ms=now, policy=policy, cache=cache)
            t1 = time.perf_counter()
            for part in result.writes.values():
                for key, value in part.items():
                    if value is None:
                        table.pop(key, None)
                    else:
                        table[key] = value
            if measure:
                tally.add(result, t1 - t0)

    gc.collect()
    if timed:
        feed(work, False)
        feed(timed, True)
    else:
        feed(work, True)
    return tally


def fold_baseline(arrivals: Sequence[Arrival]) -> float:
    """µs per event of the projections' folds alone over the same events, in order."""
    by_entity: dict[tuple[EntityKind, bytes], list[Arrival]] = {}
    for a in arrivals:
        by_entity.setdefault((a.kind, a.key), []).append(a)
    gc.collect()
    t0 = time.perf_counter()
    for (kind, key), items in by_entity.items():
        spec = KINDS[kind]
        state = spec.initial(key.decode())
        for a in sorted(items, key=lambda a: a.event.created_time):
            state = spec.evolve(state, a.event)
    return (time.perf_counter() - t0) / len(arrivals) * 1e6


def day(args: argparse.Namespace) -> None:
    arrivals = damaged_day(args.seed, args.agents, args.tasks)
    policy = Policy()
    print(
        f"day: {len(arrivals):,} per-entity deliveries ({args.agents} agents, "
        f"{args.tasks:,} tasks), batches of {args.batch}"
    )
    best: dict[EntityKind, Tally] = {}
    for _ in range(args.repeat):
        for kind in (EntityKind.AGENT, EntityKind.TASK):
            tally = run_batches(kind, list(batches(arrivals, kind, args.batch)), policy)
            if kind not in best or tally.us_per_event < best[kind].us_per_event:
                best[kind] = tally
    fold = min(fold_baseline(arrivals) for _ in range(args.repeat))
    events = sum(t.events for t in best.values())
    seconds = sum(t.seconds for t in best.values())
    us = seconds / events * 1e6
    written = sum(t.written for t in best.values())
    output = sum(t.output for t in best.values())
    for kind, t in best.items():
        print(
            f"  {kind.value:<6} {t.us_per_event:7.1f} µs/event over {t.events:,} events; "
            f"table {t.written / t.events:,.0f} B/event, output {t.output / t.events:,.0f} "
            f"B/event"
        )
    print(
        f"  core   {us:7.1f} µs/event = {1e6 / us:,.0f} events/s per core "
        f"(target <= {TARGET_US:.0f} µs: {us / TARGET_US:.2f}x the target)"
    )
    print(
        f"  folds alone (baseline) {fold:.1f} µs/event: the core costs {us / fold:.1f}x its folds"
    )
    print(f"  table bytes / output bytes = {written / output:.2f} (target <= 2)")
    if args.compare and core_build().compiled:
        interpreted = _interpreted_day(args)
        print(
            f"  interpreted core (the same source, WXCC_COMPILED=0) {interpreted:.1f} µs/event: "
            f"compiled / interpreted = {us / interpreted:.2f}"
        )


def _interpreted_day(args: argparse.Namespace) -> float:
    """µs per event of the day under the interpreted core, in a process of its own (which
    core runs is decided once per process)."""
    done = subprocess.run(
        [
            sys.executable, "-m", "bench.core", "--part", "day", "--no-compare",
            "--seed", str(args.seed), "--agents", str(args.agents), "--tasks", str(args.tasks),
            "--batch", str(args.batch), "--repeat", str(args.repeat),
        ],
        env={**os.environ, "WXCC_COMPILED": "0"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"^  core\s+([\d.]+) µs/event", done.stdout, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no core line in the interpreted run: {done.stdout!r}")
    return float(found.group(1))


def history(args: argparse.Namespace) -> None:
    lengths = [int(x) for x in args.histories.split(",")]
    print(f"history: {args.entities} agents, {args.rounds} events each after the history")
    figures: dict[int, float] = {}
    for length in lengths:
        # the horizon keeps `length` events of 1 s each retained
        policy = Policy(horizon_ms=length * 1_000 + 500)
        warm, timed = long_histories(args.entities, length, args.rounds)
        best = min(
            (run_batches(EntityKind.AGENT, warm, policy, timed) for _ in range(args.repeat)),
            key=lambda t: t.us_per_event,
        )
        figures[length] = best.us_per_event
        print(
            f"  {length:>5} retained: {best.us_per_event:7.1f} µs/event; table "
            f"{best.written / best.events:,.0f} B/event, output "
            f"{best.output / best.events:,.0f} B/event"
        )
    low, high = min(figures.values()), max(figures.values())
    print(f"  spread (slowest / fastest - 1) = {high / low - 1:.0%} (target < 20%)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.core",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--agents", type=int, default=50, help="agents in the day (50)")
    parser.add_argument("--tasks", type=int, default=2000, help="tasks in the day (2000)")
    parser.add_argument("--batch", type=int, default=500, help="records per batch (500)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is kept (3)")
    parser.add_argument("--entities", type=int, default=200, help="agents, history part")
    parser.add_argument("--histories", default="10,100,1000", help="retained lengths")
    parser.add_argument("--rounds", type=int, default=20, help="events per agent, timed")
    parser.add_argument("--part", choices=("all", "day", "history"), default="all")
    parser.add_argument(
        "--no-compare",
        dest="compare",
        action="store_false",
        help="with the compiled core, do not also time the day on the interpreted one",
    )
    args = parser.parse_args(argv)
    # the collector as the worker sets it (wxcc_stream/base/gc_tuning.py)
    tune_garbage_collector()
    print(f"core: {core_build().reason}")
    if args.part in ("all", "day"):
        day(args)
    if args.part in ("all", "history"):
        history(args)
    return 0
