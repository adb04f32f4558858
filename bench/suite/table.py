"""The suite's table, pure: a row per figure with the baseline measured in the same run,
the ratio, the target and whether it is met; its text, its JSON and its README block."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

README_START = "<!-- bench-table:start (python -m bench.suite.readme rewrites this block) -->"
README_END = "<!-- bench-table:end -->"


@dataclass(frozen=True, slots=True)
class Target:
    """A bound on the figure or on the ratio figure / baseline."""

    on: Literal["figure", "ratio"]
    op: Literal[">=", "<="]
    value: float

    def text(self, unit: str) -> str:
        if self.on == "ratio":
            return f"ratio {self.op} {self.value:g}"
        return f"{self.op} {_number(self.value)} {unit}".strip()

    def met(self, figure: float | None, ratio: float | None) -> bool | None:
        """None when the value it bounds is missing."""
        value = ratio if self.on == "ratio" else figure
        if value is None:
            return None
        return value >= self.value if self.op == ">=" else value <= self.value


@dataclass(frozen=True, slots=True)
class Row:
    """One figure of one part; `baseline` is what it is compared with in the same run."""

    part: str
    row: str
    figure: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return ratio(self.figure, self.baseline)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self.figure, self.ratio)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio"], out["met"] = self.ratio, self.met
        return out

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Row:
        target = doc.get("target")
        return cls(
            part=doc["part"], row=doc["row"], figure=doc["figure"], unit=doc["unit"],
            baseline=doc.get("baseline"), baseline_name=doc.get("baseline_name", ""),
            target=None if target is None else Target(**target), note=doc.get("note", ""),
        )  # fmt: skip


def ratio(figure: float | None, baseline: float | None) -> float | None:
    """figure / baseline; None when either is missing or the baseline is 0."""
    if figure is None or not baseline:
        return None
    return figure / baseline


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value == int(value):
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "-"}[met]


def cells(row: Row) -> list[str]:
    """The row as the table shows it: part, row, figure, baseline, ratio, target, verdict."""
    figure = "not measured" if row.figure is None else f"{_number(row.figure)} {row.unit}".strip()
    baseline = "-"
    if row.baseline is not None:
        baseline = f"{_number(row.baseline)} ({row.baseline_name})"
    ratio_text = "-" if row.ratio is None else f"{row.ratio:.2f}"
    target = "-" if row.target is None else row.target.text(row.unit)
    return [row.part, row.row, figure, baseline, ratio_text, target, _verdict(row.met)]


HEADER = ["part", "row", "figure", "baseline (same run)", "ratio", "target", ""]


def render_text(rows: Sequence[Row]) -> str:
    """A fixed-width table for the terminal."""
    table = [HEADER, *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
             for line in table]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(rows: Sequence[Row]) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(r)) + " |" for r in rows]
    return "\n".join(out)


def results_doc(rows: Sequence[Row], machine: Mapping[str, Any], **run: Any) -> dict[str, Any]:
    """The results file's content: the machine, the run's facts and every row."""
    return {"machine": dict(machine), "run": run, "rows": [r.as_dict() for r in rows]}


def rows_of(doc: Mapping[str, Any]) -> list[Row]:
    return [Row.from_dict(r) for r in doc["rows"]]


def updated_doc(
    old: Mapping[str, Any], new: Mapping[str, Any], rerun: Sequence[str], order: Sequence[str]
) -> dict[str, Any]:
    """`old` results with the parts in `rerun` measured again by `new` (`--update`): their
    rows, exit codes and (for the soak) series replaced, every other part's kept, the rows
    in `order` of parts; each update is listed under `run.updates`."""
    by_part: dict[str, list[Row]] = {}
    for row in rows_of(old):
        if row.part not in rerun:
            by_part.setdefault(row.part, []).append(row)
    for row in rows_of(new):
        by_part.setdefault(row.part, []).append(row)
    rows = [r for part in order for r in by_part.get(part, [])]
    rows += [r for part, rs in by_part.items() if part not in order for r in rs]
    run = dict(old["run"])
    run["parts"] = {**run.get("parts", {}), **new["run"].get("parts", {})}
    if "soak" in rerun:
        run["soak"] = new["run"].get("soak")
    facts = ("started", "load_before", "load_after")
    run["updates"] = [
        *run.get("updates", []),
        {"parts": list(rerun), **{k: new["run"].get(k) for k in facts}},
    ]
    return {"machine": dict(new["machine"]), "run": run, "rows": [r.as_dict() for r in rows]}


def readme_block(doc: Mapping[str, Any], results_name: str, png_name: str | None) -> str:
    """The README's generated block: the machine, the table, the run's plot."""
    m, run = doc["machine"], doc["run"]
    command = "python -m bench --quick" if run.get("quick") else "python -m bench"
    loads = [v for v in (run.get("load_before"), run.get("load_after")) if isinstance(v, float)]
    shared = (
        " (above the CPU count: the cores were shared with other work, so compare the ratios "
        "rather than the figures)"
        if any(load > (m.get("cpus") or 0) for load in loads)
        else ""
    )
    lines = [
        README_START,
        f"Latest results (`bench/results/{results_name}`, `{command}`, "
        f"{run.get('started', '?')}), on {m.get('cpus', '?')} CPUs ({m.get('cpu_model', '?')}),"
        f" {m.get('memory_gib', '?')} GiB; load average {run.get('load_before', '?')} before "
        f"and {run.get('load_after', '?')} after the run{shared}.",
        "",
        render_markdown(rows_of(doc)),
    ]
    for update in run.get("updates", []):
        lines += ["", f"Measured again ({update.get('started', '?')}, load average "
                  f"{update.get('load_before', '?')} before and {update.get('load_after', '?')}"
                  f" after): {', '.join(f'`{p}`' for p in update.get('parts', []))}."]  # fmt: skip
    failed = {name: part for name, part in run.get("parts", {}).items() if part.get("exit")}
    if failed:
        lines += ["", "Parts that failed in this run (their missing rows say `not measured`): "
                  + ", ".join(f"`python -m bench.{n}` (exit {p['exit']})"
                              for n, p in failed.items()) + "."]  # fmt: skip
    if png_name:
        lines += ["", f"![throughput, p99 and RSS over the soak](bench/results/{png_name})"]
    lines.append(README_END)
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    """`text` with the marked block replaced by `block` (which carries the markers)."""
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise ValueError(f"no block between {README_START!r} and {README_END!r}")
    return pattern.sub(lambda _: block, text, count=1)
