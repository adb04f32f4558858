"""The suite's pure parts (bench/suite): rows read from each part's printed output, the
ratio and the verdict against the target, the results file's round trip, the README block
it rewrites, and the soak's series."""

# ruff: noqa: E501  (the sample outputs are the parts' lines as they print them)

from __future__ import annotations

import pytest

from bench.latency.run import latencies
from bench.soak.series import accepted_per_second, latency_quantile, quantile
from bench.suite.parts import PARTS, Part, RowSpec, extract, rows_from_output, soak_rows
from bench.suite.table import (
    README_END,
    README_START,
    Row,
    Target,
    ratio,
    readme_block,
    render_markdown,
    render_text,
    replace_block,
    results_doc,
    rows_of,
    updated_doc,
)

PART = {p.name: p for p in PARTS}

# each part's figures as it prints them (bench/<part>/run.py)
OUTPUTS = {
    "ingress": """
run                                events/s   p50 ms   p99 ms  non-2xx  server CPU us/req  broker CPU us/req
bare 202 handler                      35025     1.79     2.75        0                 28                  1
bare paced at 17513/s                 17475     0.80     1.81        0                 36                  1
bare + ingress checks, no Kafka       17358     3.55     6.36        0                 57                  1
ingress, aiokafka                     11522     5.56     9.09        0                 84                 14
ingress, aiokafka paced at 17513/s      11577     8.51    13.25        0                 79                 12
ingress, confluent                    12556     4.79    11.47        0                 83                 41
ingress, confluent paced at 17513/s      12691     7.17    18.86        0                 82                 38

ingress (aiokafka) / bare throughput: 33% (target >= 60%); server CPU per request 2.96x the bare handler's
ingress (aiokafka) p99 at half the bare rate: 13.25 ms (target < 25 ms; 11577/s reached)
ingress (confluent) / bare throughput: 36% (target >= 60%); server CPU per request 2.92x the bare handler's
ingress (confluent) p99 at half the bare rate: 38.86 ms (target < 25 ms; 12691/s reached)
""",    "processor": """
(a) plain aiokafka consumer:         147707 events/s
(b) bare Faust pass-through:           3254 events/s
(c) wxcc-stream worker:                2000 events/s
(b) bare Faust pass-through:           3000 events/s
(c) wxcc-stream worker:                2580 events/s
    receive -> ordered topic: p50 131 ms, p99 2550 ms, max 2900 ms over 25000 events (meets)
    receive -> ordered topic: p50 146 ms, p99 2520 ms, max 2800 ms over 10000 events (meets)
    10000 agents (105 events each): RSS 859 MiB (88000 B each; traced 1 B)
    100000 tasks (6 events each): RSS 587 MiB (6000 B each; traced 1 B)
""",
    "core": """
  core      19.3 µs/event = 51,813 events/s per core (target <= 20 µs: 0.97x the target)
  folds alone (baseline) 2.9 µs/event: the core costs 6.7x its folds
  interpreted core (the same source, WXCC_COMPILED=0) 25.1 µs/event: compiled / interpreted = 0.77
  spread (slowest / fastest - 1) = 53% (target < 20%)
""",
    "replay": """
raw records:          30,000 (9,219 task legs hopped)
bare aiokafka:        149,601 events/s, CPU 9.3 us/event (164,212/s 7.1 us then 102,422/s 11.5 us)
replay, batches of 5,000: 4,274 events/s, 4.7 s, CPU 118.5 us/event; ratio 2.9% (target >= 35%), by CPU 7.9%
replay, batches of 20,000: 5,100 events/s, 3.9 s, CPU 110.0 us/event; ratio 3.4% (target >= 35%), by CPU 8.5%
pure part, batches of 5,000: 73.7 us CPU/event; with Kafka free it would reach 12.7% of the bare consumer by CPU
""",
    "api": """
bare chunked handler (baseline)  p50   0.20 ms  p99   0.64 ms  max   1.00 ms
API stream                       p50   0.49 ms  p99   8.00 ms  max   9.00 ms
bare aiokafka consumer (baseline)            p50   2.00 ms  p99  12.80 ms  max  13.00 ms
API stream (KafkaFeed -> view -> SSE)        p50   2.05 ms  p99   7.40 ms  max   8.00 ms
documents: 10,000 agents + 100,000 tasks: 94 MiB of JSON (baseline: the bytes alone)
API view (bytes, entries, indexes, change log): +237 MiB = 2.5x the JSON; process RSS 284 MiB (target < 1024 MiB)
""",
    "latency": """
e2e max: 812 events/s through ingress -> worker -> projections (the ingress took the burst at 2,000/s)
e2e at 25% of max (203/s asked, 200/s reached): p50 2,050 ms, p99 2,990 ms, p999 3,100 ms over 3,000 documents of 3,045 events (target p99 <= 3250 ms: met)
e2e at 50% of max (406/s asked, 400/s reached): p50 2,100 ms, p99 3,300 ms, p999 3,500 ms over 6,000 documents of 6,090 events (target p99 <= 3250 ms: MISSED)
e2e at 90% of max (731/s asked, 700/s reached): p50 2,500 ms, p99 12,345 ms, p999 14,000 ms over 9,000 documents of 10,960 events (target p99 <= 3250 ms: MISSED)
e2e at sustained 90% of max (731/s asked, 700/s reached): p50 2,500 ms, p99 9,999 ms, p999 14,000 ms over 9,000 documents of 10,960 events (target p99 <= 3250 ms: MISSED)
e2e at sustained 80% of max (650/s asked, 649/s reached): p50 500 ms, p99 3,000 ms, p999 3,100 ms over 9,000 documents of 10,960 events (target p99 <= 3250 ms: met)
e2e sustained: 649 events/s for 120 s with p99 3,000 ms (80% of max; the highest share tried in steps of 10 points from 90%)
""",
    "sink": """
  sink, new keys                       100,000 docs in   4.07 s =    24,600 docs/s, rows changed 100,000
  baseline: bare COPY of the rows      100,000 docs in   2.04 s =    49,000 docs/s
  bare aiokafka consumer (baseline)     445,000 docs/s
  sink, Kafka -> rows, steady            23,000 docs/s (0.05 of the bare consumer; target met)
""",
    "recovery": """
[auto] SIGKILLed and restarted: processing again after 13.0 s
[memory://] SIGKILLed and restarted: processing again after 18.0 s

worker recovery, 2,000 open tasks (6 events each) in its tables:
| store | fill events/s | worker RSS MiB | SIGKILL + restart -> processing | join | takeover |
|---|---|---|---|---|---|
| auto | 1,234 | 300 | 13.0 s | 17.5 s | 17.8 s |
| memory:// | 1,500 | 1,250 | 118.0 s | 13.2 s | 18.9 s |
""",
}  # fmt: skip

EXPECTED = {
    "ingress": [
        (11522, 35025, False),
        (13.25, None, True),
        (12556, 35025, False),
        (38.86, None, False),
    ],
    "processor": [(2580, 3000, True), (2550, None, True), (859, None, None), (587, None, None)],
    "core": [(19.3, 2.9, True), (19.3, 25.1, None), (53, None, False)],
    "replay": [(4274, 149601, False)],
    "api": [(0.49, 0.20, True), (2.05, 2.00, True), (284, 94, True)],
    "sink": [(24600, 49000, True), (23000, 445000, True)],
    "recovery": [
        (13.0, None, None),
        (17.5, None, None),
        (17.8, None, None),
        (118.0, None, None),
        (13.2, None, None),
        (18.9, None, None),
    ],
    "latency": [
        (812, 2000, None),
        (2990, None, True),
        (3300, None, False),
        (12345, None, False),
        (649, 812, None),
    ],
}


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_each_part_s_rows_are_read_from_its_output(name: str) -> None:
    rows = rows_from_output(PART[name], OUTPUTS[name])
    got = [(r.figure, r.baseline, r.met) for r in rows]
    assert got == [(pytest.approx(f), b if b is None else pytest.approx(b), m)
                   for f, b, m in EXPECTED[name]]  # fmt: skip
    assert all(r.note == "" for r in rows)


def test_every_part_is_covered_by_a_sample_output() -> None:
    assert sorted(OUTPUTS) == sorted(PART)


def test_a_figure_missing_from_the_output_is_not_measured() -> None:
    rows = rows_from_output(PART["replay"], "Traceback (most recent call last): ...")
    assert [(r.figure, r.ratio, r.met, r.note) for r in rows] == [
        (None, None, None, "not found in the output")
    ]
    assert "not measured" in render_text(rows)


def test_pick_chooses_among_several_matches() -> None:
    text = "x = 1\nx = 2\nx = 3\n"
    first = RowSpec("x", r"x = (\d)", "", pick="first")
    last = RowSpec("x", r"x = (\d)", "")
    assert (extract("p", first, text).figure, extract("p", last, text).figure) == (1, 3)


@pytest.mark.parametrize(
    ("target", "figure", "baseline", "met"),
    [
        (Target("ratio", ">=", 0.6), 60, 100, True),
        (Target("ratio", ">=", 0.6), 59, 100, False),
        (Target("ratio", ">=", 0.6), 59, None, None),  # no baseline: no ratio
        (Target("ratio", ">=", 0.6), 59, 0, None),
        (Target("figure", "<=", 20), 20, None, True),
        (Target("figure", "<=", 20), 20.1, 5, False),
        (Target("figure", ">=", 20_000), 19_999, None, False),
        (Target("figure", ">=", 20_000), None, 5, None),
    ],
)
def test_the_verdict_follows_the_target(
    target: Target, figure: float | None, baseline: float | None, met: bool | None
) -> None:
    row = Row("p", "r", figure, "u", baseline, "base", target)
    assert row.met is met
    assert row.ratio == ratio(figure, baseline)


def test_the_results_file_round_trips_and_keeps_the_machine() -> None:
    rows = [*rows_from_output(PART["sink"], OUTPUTS["sink"]), Row("core", "x", None, "µs")]
    doc = results_doc(rows, {"hostname": "h", "cpus": 2}, quick=True, started="now")
    assert rows_of(doc) == rows
    assert doc["machine"] == {"hostname": "h", "cpus": 2}
    assert doc["rows"][0]["ratio"] == pytest.approx(24_600 / 49_000)
    assert doc["rows"][0]["met"] is True


def test_an_update_replaces_the_rows_of_the_parts_run_again_and_keeps_the_rest() -> None:
    order = ["processor", "core", "replay", "soak"]
    old = results_doc(
        [Row("processor", "a", 1.0, "x"), Row("core", "b", 2.0, "x"), Row("replay", "c", 3.0, "x"),
         Row("soak", "d", 4.0, "x")],
        {"hostname": "h"}, started="18:00", load_before=8.0, load_after=6.0,
        parts={"processor": {"exit": 1}, "core": {"exit": 0}, "replay": {"exit": 0}},
        soak={"events": 1},
    )  # fmt: skip
    new = results_doc(
        [Row("core", "b", 20.0, "x"), Row("core", "b2", 21.0, "x"), Row("processor", "a", 10.0, "x")],
        {"hostname": "h"}, started="19:00", load_before=0.1, load_after=0.5,
        parts={"processor": {"exit": 0}, "core": {"exit": 0}}, soak=None,
    )  # fmt: skip
    doc = updated_doc(old, new, ["core", "processor"], order)
    assert [(r.part, r.row, r.figure) for r in rows_of(doc)] == [
        ("processor", "a", 10.0), ("core", "b", 20.0), ("core", "b2", 21.0),
        ("replay", "c", 3.0), ("soak", "d", 4.0),
    ]  # fmt: skip
    assert doc["run"]["started"] == "18:00"
    assert doc["run"]["soak"] == {"events": 1}  # not run again: kept
    assert doc["run"]["parts"]["processor"] == {"exit": 0}
    assert doc["run"]["updates"] == [
        {"parts": ["core", "processor"], "started": "19:00", "load_before": 0.1, "load_after": 0.5}
    ]
    block = readme_block(doc, "r.json", None)
    assert (
        "Measured again (19:00, load average 0.1 before and 0.5 after): `core`, `processor`"
        in block
    )
    assert "(exit 1)" not in block  # the failed part was measured again


def test_the_tables_show_every_row() -> None:
    rows = rows_from_output(PART["core"], OUTPUTS["core"])
    text, md = render_text(rows), render_markdown(rows)
    assert len(text.splitlines()) == 2 + len(rows)
    assert len(md.splitlines()) == 2 + len(rows)
    assert "6.66" in text  # core / folds-alone ratio
    assert "<= 20 µs" in md
    assert "MISSED" in md  # the spread target


def test_the_readme_block_is_replaced_and_nothing_else() -> None:
    doc = results_doc(
        rows_from_output(PART["replay"], OUTPUTS["replay"]),
        {"cpus": 2, "cpu_model": "Test CPU", "memory_gib": 7.8},
        started="2026-12-05 18:00 UTC", quick=True, load_before=3.5, load_after=4.0,
        parts={"replay": {"exit": 0}, "processor": {"exit": 1}},
    )  # fmt: skip
    block = readme_block(doc, "2026-12-05-h.json", "2026-12-05-h.png")
    before = f"# title\n\ntext\n{README_START}\nold table\n{README_END}\nafter\n"
    after = replace_block(before, block)
    assert after.startswith("# title\n\ntext\n")
    assert after.endswith("\nafter\n")
    assert "old table" not in after
    for fact in ("2 CPUs (Test CPU)", "load average 3.5", "--quick", "149,601", "h.png",
                 "`python -m bench.processor` (exit 1)"):  # fmt: skip
        assert fact in after
    assert "shared with other work" in after  # load 3.5 and 4.0 on 2 CPUs
    quiet = readme_block({**doc, "run": {**doc["run"], "load_before": 0.2, "load_after": 1.0}},
                         "r.json", None)  # fmt: skip
    assert "load average 0.2 before and 1.0 after the run." in quiet
    assert replace_block(after, block) == after  # idempotent
    with pytest.raises(ValueError, match="no block"):
        replace_block("# no markers\n", block)


def test_the_soak_s_rows() -> None:
    doc = {
        "problems": [], "answers": {"202": 1000, "503": 12}, "traffic_s": 50.0, "rate": 20.0,
        "converged_s": 2.5,
        "rss_slope_mib_per_min": {"ingress (pid 1)": 0.5, "worker-1 (pid 2)": 3.0,
                                  "worker-1 (pid 3)": None, "worker-2 (pid 4)": 7.0},
    }  # fmt: skip
    # worker-1 (pid 2) was killed after 10 s: too short a series for its slope to count
    doc["rss_mib"] = {"ingress (pid 1)": [(0.0, 60.0), (100.0, 61.0)],
                      "worker-1 (pid 2)": [(0.0, 80.0), (10.0, 90.0)],
                      "worker-1 (pid 3)": [(10.0, 20.0), (100.0, 100.0)],
                      "worker-2 (pid 4)": [(20.0, 30.0), (100.0, 90.0)]}  # fmt: skip
    doc["rss_slope_mib_per_min"]["worker-1 (pid 2)"] = 30.0
    rows = {r.row: r for r in soak_rows(doc)}
    assert rows["broken promises (truth, storage, 5xx)"].met is True
    assert rows["answers 2xx per second of traffic"].ratio == pytest.approx(1.0)
    assert rows["503 answers (broker restart)"].figure == 12
    assert rows["worker RSS slope, steepest"].figure == 7.0
    assert rows["ingress RSS slope"].figure == 0.5
    broken = soak_rows(doc | {"problems": ["lost"]})
    assert broken[0].met is False


def test_the_soak_s_series() -> None:
    answers = [(0.1, 202), (0.5, 202), (0.9, 503), (2.2, 202)]
    # the second without an answer is a 0: a stall shows
    assert accepted_per_second(answers) == [(0.0, 2.0), (1.0, 0.0), (2.0, 1.0)]
    assert accepted_per_second([]) == []
    latencies = [(float(i) / 10, i / 1000) for i in range(1, 101)]  # 1..100 ms over 10 s
    windows = latency_quantile(latencies, q=0.99, window_s=5.0)
    assert [w for w, _ in windows] == [0.0, 5.0, 10.0]
    assert windows[0][1] == pytest.approx(49.0)
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.99) == 4.0


def test_only_the_parts_taking_a_broker_get_the_suite_s() -> None:
    part = Part("x", full=("--a",), quick=("--b",), rows=(), takes_bootstrap=True)
    assert part.argv(quick=True, bootstrap="h:1") == ["-m", "bench.x", "--b", "--bootstrap", "h:1"]
    assert PART["ingress"].argv(quick=False, bootstrap="h:1") == ["-m", "bench.ingress"]


def test_e2e_latency_is_read_time_minus_receipt_of_the_named_event() -> None:
    received = {"e1": 1_000, "e2": 1_500, "e3": 2_000}
    seen = {("agents", "e1"): 3_000, ("tasks", "e1"): 3_200, ("agents", "e2"): 1_700,
            ("agents", "x"): 9_999, ("tasks", "e3"): 2_100}  # fmt: skip
    # e3 is another phase's; "x" was never received by this run
    assert sorted(latencies(frozenset({"e1", "e2", "x"}), received, seen)) == [200, 2000, 2200]
