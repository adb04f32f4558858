"""The parts the suite runs, each as its own command (`python -m bench.<part>`, the same
one a person runs alone), and how their printed figures become rows: one pattern per
figure and per baseline, each taken from the part's output as printed."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bench.suite.table import Row, Target

NUMBER = r"([\d,]+(?:\.\d+)?)"
GRACE_MS = 3_000  # the worker's default reorder grace (WXCC_WORKER_GRACE_MS)


@dataclass(frozen=True, slots=True)
class RowSpec:
    """A row read from a part's output: the figure's pattern (one group) and, when it has
    one, the baseline's; `pick` chooses among several matches (rounds, rates)."""

    row: str
    figure: str
    unit: str
    baseline: str | None = None
    baseline_name: str = ""
    target: Target | None = None
    pick: Literal["first", "last"] = "last"


@dataclass(frozen=True, slots=True)
class Part:
    """One benchmark command: its arguments in full and in --quick runs, whether it takes
    the suite's broker (`--bootstrap`), and its rows."""

    name: str
    full: Sequence[str]
    quick: Sequence[str]
    rows: Sequence[RowSpec]
    takes_bootstrap: bool = False
    needs: Sequence[str] = field(default_factory=tuple)  # programs it needs on PATH

    def argv(self, *, quick: bool, bootstrap: str | None) -> list[str]:
        args = [*(self.quick if quick else self.full)]
        if self.takes_bootstrap and bootstrap:
            args += ["--bootstrap", bootstrap]
        return ["-m", f"bench.{self.name}", *args]


def _find(pattern: str, output: str, pick: str) -> float | None:
    found = re.findall(pattern, output, re.M)
    if not found:
        return None
    return float((found[0] if pick == "first" else found[-1]).replace(",", ""))


def extract(part: str, spec: RowSpec, output: str) -> Row:
    """The row `spec` describes, read from `output` (figure None: not found)."""
    figure = _find(spec.figure, output, spec.pick)
    baseline = None if spec.baseline is None else _find(spec.baseline, output, spec.pick)
    return Row(
        part=part, row=spec.row, figure=figure, unit=spec.unit, baseline=baseline,
        baseline_name=spec.baseline_name, target=spec.target,
        note="" if figure is not None else "not found in the output",
    )  # fmt: skip


def rows_from_output(part: Part, output: str) -> list[Row]:
    return [extract(part.name, spec, output) for spec in part.rows]


def soak_rows(doc: Mapping[str, Any]) -> list[Row]:
    """Rows of a `python -m bench.soak --json` document."""
    # a worker killed early lived too short for a slope: the workers' series that span at
    # least half the longest one
    spans = {n: (p[-1][0] - p[0][0] if p else 0.0) for n, p in doc.get("rss_mib", {}).items()}
    longest = max(spans.values(), default=0.0)
    slopes = {
        name: slope
        for name, slope in doc["rss_slope_mib_per_min"].items()
        if slope is not None
        and not name.startswith("ingress")
        and spans.get(name, longest) >= longest / 2
    }
    ingress = [s for n, s in doc["rss_slope_mib_per_min"].items() if n.startswith("ingress")]
    answers = doc["answers"]
    accepted = sum(v for k, v in answers.items() if k.startswith("2"))
    seconds = doc["traffic_s"]
    return [
        Row("soak", "broken promises (truth, storage, 5xx)", float(len(doc["problems"])), "",
            target=Target("figure", "<=", 0)),
        Row("soak", "answers 2xx per second of traffic", accepted / seconds, "answers/s",
            baseline=float(doc["rate"]), baseline_name="rate asked"),
        Row("soak", "503 answers (broker restart)", float(answers.get("503", 0)), ""),
        Row("soak", "projections equal the truth after", doc["converged_s"], "s",
            note="after the last reconciliation run"),
        Row("soak", "worker RSS slope, steepest", max(slopes.values()) if slopes else None,
            "MiB/min", note="after warm-up, of the workers that ran at least half the soak"),
        Row("soak", "ingress RSS slope", ingress[0] if ingress else None, "MiB/min"),
    ]  # fmt: skip


PARTS: tuple[Part, ...] = (
    Part(
        "ingress",
        full=(),
        quick=("--duration", "3", "--bodies", "200"),
        needs=("wrk",),
        rows=(
            *(
                spec
                for client in ("aiokafka", "confluent")
                for spec in (
                    RowSpec(
                        f"ingress ({client}), Kafka acks=all",
                        rf"^ingress, {client}\s+{NUMBER}",
                        "req/s",
                        rf"^bare 202 handler\s+{NUMBER}",
                        "bare aiohttp 202",
                        Target("ratio", ">=", 0.60),
                        pick="first",
                    ),
                    RowSpec(
                        f"ingress ({client}) p99 paced at half the bare rate",
                        rf"^ingress \({client}\) p99 at half the bare rate: {NUMBER} ms",
                        "ms",
                        target=Target("figure", "<=", 25),
                    ),
                )
            ),
        ),
    ),
    Part(
        "processor",
        full=(),
        quick=(
            "--events",
            "3000",
            "--rate",
            "300",
            "--sustainable-rate",
            "0",
            "--latency-seconds",
            "8",
            "--skip-memory",
        ),
        takes_bootstrap=True,
        rows=(
            RowSpec(
                "worker throughput",
                rf"\(c\) wxcc-stream worker:\s+{NUMBER}",
                "events/s",
                rf"\(b\) bare Faust pass-through:\s+{NUMBER}",
                "bare Faust agent",
                Target("ratio", ">=", 0.80),
            ),
            RowSpec(
                "worker receive -> ordered topic p99 (first rate)",
                rf"receive -> ordered topic: p50 [\d,.]+ ms, p99 {NUMBER} ms",
                "ms",
                target=Target("figure", "<=", GRACE_MS + 250),
                pick="first",
            ),
            RowSpec(
                "worker memory, 10,000 agents",
                rf"\d+ agents \(\d+ events each\): RSS {NUMBER} MiB",
                "MiB",
            ),
            RowSpec(
                "worker memory, 100,000 open tasks",
                rf"\d+ tasks \(\d+ events each\): RSS {NUMBER} MiB",
                "MiB",
            ),
        ),
    ),
    Part(
        "core",
        full=(),
        quick=(
            "--agents",
            "10",
            "--tasks",
            "300",
            "--repeat",
            "1",
            "--entities",
            "30",
            "--histories",
            "10,100",
            "--rounds",
            "5",
        ),
        rows=(
            RowSpec(
                "core per event (a damaged day)",
                rf"core\s+{NUMBER} µs/event",
                "µs",
                rf"folds alone \(baseline\) {NUMBER} µs/event",
                "folds alone",
                Target("figure", "<=", 20),
            ),
            RowSpec(
                "core per event, compiled by mypyc",
                rf"core\s+{NUMBER} µs/event",
                "µs",
                rf"interpreted core \(the same source, WXCC_COMPILED=0\) {NUMBER} µs/event",
                "the interpreted core",
            ),
            RowSpec(
                "core cost spread over history lengths",
                rf"spread \(slowest / fastest - 1\) = {NUMBER}%",
                "%",
                target=Target("figure", "<=", 20),
            ),
        ),
    ),
    Part(
        "replay",
        full=(),
        quick=("--events", "10000"),  # fewer arrive in one fetch: no bare-consumer rate
        takes_bootstrap=True,
        rows=(
            RowSpec(
                "replay, one process",
                rf"^replay, batches of [\d,]+:\s+{NUMBER} events/s",
                "events/s",
                rf"bare aiokafka:\s+{NUMBER} events/s",
                "bare aiokafka consumer",
                Target("ratio", ">=", 0.35),
                pick="first",  # the first --batch-max (5,000 by default)
            ),
        ),
    ),
    Part(
        "api",
        full=("--part", "all"),
        quick=("--part", "all", "--agents", "1000", "--tasks", "10000", "--changes", "100"),
        takes_bootstrap=True,
        rows=(
            RowSpec(
                "API change -> stream client p50",
                rf"^API stream\s+p50\s+{NUMBER} ms",
                "ms",
                rf"^bare chunked handler \(baseline\)\s+p50\s+{NUMBER} ms",
                "bare chunked",
                Target("figure", "<=", 100),
            ),
            RowSpec(
                "API Kafka -> stream p50",
                rf"^API stream \(KafkaFeed -> view -> SSE\)\s+p50\s+{NUMBER} ms",
                "ms",
                rf"^bare aiokafka consumer \(baseline\)\s+p50\s+{NUMBER} ms",
                "bare aiokafka consumer",
                Target("figure", "<=", 100),
            ),
            RowSpec(
                "API process RSS with the view",
                rf"process RSS {NUMBER} MiB",
                "MiB",
                rf"^documents: .*?: {NUMBER} MiB of JSON",
                "the documents' JSON",
                Target("figure", "<=", 1024),
            ),
        ),
    ),
    Part(
        "sink",
        full=(),
        quick=("--tasks", "10000", "--batch", "2000"),
        takes_bootstrap=True,
        rows=(
            RowSpec(
                "sink, new keys",
                rf"sink, new keys\s+[\d,]+ docs in\s+[\d.]+ s =\s+{NUMBER}",
                "docs/s",
                rf"baseline: bare COPY of the rows\s+[\d,]+ docs in\s+[\d.]+ s =\s+{NUMBER}",
                "bare COPY",
                Target("figure", ">=", 20_000),
            ),
            RowSpec(
                "sink, Kafka -> rows",
                rf"sink, Kafka -> rows, steady\s+{NUMBER} docs/s",
                "docs/s",
                rf"bare aiokafka consumer \(baseline\)\s+{NUMBER} docs/s",
                "bare aiokafka consumer",
                Target("figure", ">=", 20_000),
            ),
        ),
    ),
)


def _e2e_at(share: int) -> RowSpec:
    return RowSpec(
        f"e2e receipt -> projection p99 at {share}% of max",
        rf"^e2e at {share}% of max .*?, p99 {NUMBER} ms", "ms",
        target=Target("figure", "<=", GRACE_MS + 250),
    )  # fmt: skip


PARTS += (
    Part(
        "latency",
        full=("--sustain-seconds", "120"),
        quick=("--seconds", "10", "--burst", "2000", "--sustain-seconds", "10"),
        takes_bootstrap=True,
        rows=(
            RowSpec(
                "e2e max (ingress -> projections)",
                rf"^e2e max: {NUMBER} events/s",
                "events/s",
                rf"the ingress took the burst at {NUMBER}/s",
                "ingress alone",
            ),
            *(_e2e_at(share) for share in (25, 50, 90)),
            RowSpec(
                "e2e highest rate held with p99 <= grace + 250 ms",
                rf"^e2e sustained: {NUMBER} events/s",
                "events/s",
                rf"^e2e max: {NUMBER} events/s",
                "e2e max",
            ),
        ),
    ),
)


def _recovery(store: str, column: int, what: str) -> RowSpec:
    # the last table of bench.recovery: | store | fill | RSS | restart | join | takeover |
    cells = r"[\d,.]+(?: s)? \| " * column
    return RowSpec(f"{what}, {store} store", rf"^\| {re.escape(store)} \| {cells}{NUMBER}", "s")


PARTS += (
    Part(
        "recovery",
        full=(),
        quick=("--tasks", "2000", "--agents", "200", "--timeout", "300"),
        takes_bootstrap=True,
        rows=tuple(
            _recovery(store, column, what)
            for store in ("auto", "memory://")
            for column, what in (
                (2, "worker SIGKILL + restart -> processing"),
                (3, "a second worker joins"),
                (4, "takeover of a SIGKILLed worker"),
            )
        ),
    ),
)
SOAK = Part("soak", full=("--minutes", "5"), quick=("--minutes", "0.5"), rows=())
