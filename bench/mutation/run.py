"""Mutation testing of the pure core and the folds, with cosmic-ray.

    python -m bench.mutation [--group core|projections ...] [--fresh] [--timeout 120]
    python -m bench.mutation --group projections --recheck   # survivors only, new tests

Would a test catch this bug? Each mutant is one small change to the code (a comparison
flipped, a number changed, a branch dropped); the group's unit tests run against it and
either fail (killed: good) or pass (survived: a bug the tests would miss). cosmic-ray
mutates files in place, so this runs in a copy of the checkout under var/mutation/tree,
never in the files you edit; the sessions (SQLite) live beside it, so an interrupted run
resumes where it stopped, unless the code changed since (then it starts again).

Prints a progress bar per group and a table of killed / survived / timeout / incompetent
per module; the surviving mutants (with their diffs) go to var/mutation/<group>.md for the
review that decides, for each, whether it is equivalent or needs a test (docs/testing.md).
Slow (hours on two cores): not part of the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.mutation.annotations import Span, annotation_spans, within
from bench.mutation.groups import GROUPS, Group

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "var" / "mutation"
TARGET = 0.90
"""Share of mutants the tests must kill (issue 22)."""


UNTESTED = ("bench/mutation/", "docs/testing.md", "README.md")
"""Files no mutation group's tests read (test_readme.py is in no group)."""


def _source_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout  # fmt: skip
    return [name for name in listed.decode().split("\0") if name]


def _fingerprint(files: list[str]) -> str:
    digest = hashlib.sha256()
    # the runner and the pages that report its scores are not under test: changing them
    # keeps the sessions
    for name in sorted(f for f in files if not f.startswith(UNTESTED)):
        path = ROOT / name
        digest.update(name.encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _copy_checkout(files: list[str], tree: Path) -> None:
    for name in files:
        source, copy = ROOT / name, tree / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if copy.is_symlink() or copy.is_file():
            copy.unlink()
        if source.is_symlink():
            copy.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, copy)


def prepare_tree(fresh: bool) -> Path:
    """A copy of the checkout to mutate; rebuilt (and the sessions dropped) when the code
    differs from the copy's."""
    files = _source_files()
    stamp = _fingerprint(files)
    tree, stamp_file = WORK / "tree", WORK / "tree.sha256"
    if not fresh and tree.is_dir() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        # the same code: copy it again, which undoes a mutant an interrupted run left behind
        _copy_checkout(files, tree)
        return tree
    shutil.rmtree(WORK, ignore_errors=True)
    tree.mkdir(parents=True)
    _copy_checkout(files, tree)
    stamp_file.write_text(stamp)
    return tree


def _mutated_digest(group: Group) -> str:
    """A digest of the checkout's files the group mutates (what its session was made from)."""
    digest = hashlib.sha256()
    for source in group.sources:
        top = ROOT / source
        for path in sorted(top.rglob("*.py")) if top.is_dir() else [top]:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def recheck(group: Group, timeout_s: float, console: Console) -> Path:
    """Test a session's survivors again against the checkout's tests (after new tests were
    written for them), keeping the other outcomes: valid while tests were only added, and
    only if the mutated code did not change (else run again with --fresh). Not while a run
    of the same sessions is going: it mutates the same copy of the checkout."""
    tree, session = WORK / "tree", WORK / f"{group.name}.sqlite"
    made_from = WORK / f"{group.name}.sources.sha256"
    if not session.exists() or not made_from.is_file():
        raise SystemExit(f"no session for {group.name}: run it first")
    if made_from.read_text() != _mutated_digest(group):
        raise SystemExit(f"the code {group.name} mutates changed since its session: --fresh")
    # the checkout's tests (and the code, undoing any mutant an interrupted run left), so
    # a later run resumes the pending mutants against the same tests
    files = _source_files()
    _copy_checkout(files, tree)
    (WORK / "tree.sha256").write_text(_fingerprint(files))
    command = _test_command(group, timeout_s)
    with sqlite3.connect(session) as db:
        survivors = db.execute(
            "select s.job_id, s.module_path, s.operator_name, s.occurrence from work_results r "
            "join mutation_specs s on s.job_id = r.job_id where r.test_outcome = 'SURVIVED'"
        ).fetchall()
    cosmic = str(Path(sys.executable).parent / "cosmic-ray")
    bar = Progress(
        TextColumn(f"[bold]{group.name} recheck"), BarColumn(), MofNCompleteColumn(),
        TextColumn("survivors"), TimeElapsedColumn(), console=console,
    )  # fmt: skip
    with bar:
        task = bar.add_task(group.name, total=len(survivors))
        for job_id, module, operator, occurrence in survivors:
            done = subprocess.run(
                [cosmic, "mutate-and-test", module, operator, str(occurrence), command],
                cwd=tree, check=True, capture_output=True, timeout=timeout_s + 60,
            )  # fmt: skip
            result = json.loads(done.stdout)
            if result["worker_outcome"] == "normal":
                with sqlite3.connect(session) as db:
                    db.execute(
                        "update work_results set test_outcome = ?, output = ? where job_id = ?",
                        (result["test_outcome"].upper(), result["output"], job_id),
                    )
                    # beside cosmic-ray's tables (it ignores others): the history the
                    # report keeps, a survivor of the run and the test that kills it now
                    db.execute(
                        "create table if not exists bench_rechecked "
                        "(job_id text primary key, killed_by text)"
                    )
                    db.execute(
                        "insert or replace into bench_rechecked values (?, ?)",
                        (job_id, killing_test(result["output"] or "")),
                    )
            bar.advance(task)
    return session


def _test_command(group: Group, timeout_s: float) -> str:
    # the copy's own code: python -m puts its root first on sys.path, ahead of the editable
    # install of the checkout; the mutation profile keeps property tests short; the mutants
    # are in the source, so the compiled core (build/compiled) stays out
    return (
        f"env CI=true WXCC_MUTATION=1 WXCC_COMPILED=0 {sys.executable} -m pytest -x -q "
        f"-p no:cacheprovider --timeout={int(timeout_s)} {' '.join(group.tests)}"
    )


def _config(group: Group, timeout_s: float) -> Path:
    command = _test_command(group, timeout_s)
    sources = ", ".join(f'"{s}"' for s in group.sources)
    path = WORK / f"{group.name}.toml"
    path.write_text(
        "[cosmic-ray]\n"
        f"module-path = [{sources}]\n"
        f"timeout = {timeout_s}\n"
        "excluded-modules = []\n"
        f'test-command = "{command}"\n\n'
        '[cosmic-ray.distributor]\nname = "local"\n'
    )
    return path


def skip_annotations(session: Path, tree: Path) -> int:
    """Mark the mutants inside signature annotations skipped (bench/mutation/annotations.py:
    equivalent by construction); returns how many."""
    spans: dict[str, list[Span]] = {}
    skipped: list[str] = []
    with sqlite3.connect(session) as db:
        specs = db.execute(
            "select job_id, module_path, start_pos_row, start_pos_col, end_pos_row, "
            "end_pos_col from mutation_specs"
        ).fetchall()
        for job_id, module, row, col, end_row, end_col in specs:
            if module not in spans:
                spans[module] = annotation_spans((tree / module).read_text())
            if within(spans[module], (row, col), (end_row, end_col)):
                skipped.append(job_id)
        db.executemany(
            "insert or replace into work_results (job_id, worker_outcome, output, "
            "test_outcome, diff) values (?, 'SKIPPED', 'annotation', null, null)",
            [(job_id,) for job_id in skipped],
        )
    return len(skipped)


def _counts(session: Path) -> tuple[int, int]:
    """(mutants, done) in a session."""
    with sqlite3.connect(session) as db:
        total = db.execute("select count(*) from work_items").fetchone()[0]
        done = db.execute("select count(*) from work_results").fetchone()[0]
    return int(total), int(done)


def run_group(group: Group, tree: Path, timeout_s: float, console: Console) -> Path:
    """Mutate and test one group (resuming its session); returns the session file."""
    config, session = _config(group, timeout_s), WORK / f"{group.name}.sqlite"
    cosmic = [str(Path(sys.executable).parent / "cosmic-ray"), "--verbosity", "ERROR"]
    if not session.exists():
        subprocess.run([*cosmic, "init", str(config), str(session)], cwd=tree, check=True)
        subprocess.run(
            [str(Path(sys.executable).parent / "cr-filter-pragma"), str(session)],
            cwd=tree, check=True, capture_output=True,
        )  # fmt: skip
        skip_annotations(session, tree)
        (WORK / f"{group.name}.sources.sha256").write_text(_mutated_digest(group))
    total, done = _counts(session)
    bar = Progress(
        TextColumn(f"[bold]{group.name}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("mutants"), TimeElapsedColumn(), console=console,
    )  # fmt: skip
    with bar:
        task = bar.add_task(group.name, total=total, completed=done)
        worker = subprocess.Popen(
            [*cosmic, "exec", str(config), str(session)],
            cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while worker.poll() is None:
                time.sleep(2.0)
                bar.update(task, completed=_counts(session)[1])
        except KeyboardInterrupt:
            worker.terminate()
            worker.wait()
            raise
        bar.update(task, completed=_counts(session)[1])
    if worker.returncode != 0:
        raise SystemExit(f"cosmic-ray exec failed for {group.name} ({worker.returncode})")
    return session


def _outcome(test_outcome: str | None, worker_outcome: str, output: str | None) -> str:
    # cosmic-ray stores its enums by name (NORMAL, KILLED, SURVIVED ...)
    test_outcome = test_outcome.lower() if test_outcome else None
    worker_outcome = worker_outcome.lower()
    if worker_outcome == "skipped":
        return "skipped"
    if worker_outcome != "normal":
        return "error"
    if test_outcome == "killed" and (output or "").strip() == "timeout":
        return "timeout"
    return test_outcome or "error"


def killing_test(output: str) -> str | None:
    """The test that failed first in a pytest run's output (`-ra` lists it), if any."""
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split()[1]
    return None


def summarize(group: Group, session: Path) -> tuple[dict[str, Counter[str]], list[str]]:
    """Outcomes per module, and a markdown entry (with the diff) per mutant that survived:
    still surviving, or killed on a recheck (with the test that kills it now)."""
    per_module: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: list[str] = []
    with sqlite3.connect(session) as db:
        db.execute(
            "create table if not exists bench_rechecked (job_id text primary key, killed_by text)"
        )
        rows = db.execute(
            "select s.module_path, s.operator_name, s.start_pos_row, r.test_outcome, "
            "r.worker_outcome, r.output, r.diff, c.job_id, c.killed_by from work_results r "
            "join mutation_specs s on s.job_id = r.job_id "
            "left join bench_rechecked c on c.job_id = r.job_id "
            "order by s.module_path, s.start_pos_row"
        ).fetchall()
    for module, operator, row, test_outcome, worker_outcome, output, diff, *recheck in rows:
        outcome = _outcome(test_outcome, worker_outcome, output)
        per_module[module][outcome] += 1
        rechecked, killed_by = recheck
        if outcome == "survived" or (rechecked and outcome == "killed"):
            verdict = "survives" if outcome == "survived" else f"killed now by `{killed_by}`"
            survivors.append(
                f"### {module}:{row} ({operator}): {verdict}\n\n```diff\n{diff}\n```\n"
            )
    return per_module, survivors


def _table(name: str, per_module: dict[str, Counter[str]]) -> tuple[Table, float]:
    table = Table(title=f"mutation testing: {name}")
    columns = ("killed", "timeout", "survived", "incompetent", "error", "skipped")
    table.add_column("module")
    for column in (*columns, "score"):
        table.add_column(column, justify="right")
    total: Counter[str] = Counter()
    for module, counts in sorted(per_module.items()):
        total.update(counts)
        table.add_row(module, *(str(counts[c]) for c in columns), _score(counts))
    table.add_row("all", *(str(total[c]) for c in columns), _score(total), style="bold")
    judged = total["killed"] + total["timeout"] + total["survived"]
    return table, (total["killed"] + total["timeout"]) / judged if judged else 0.0


def _score(counts: Counter[str]) -> str:
    judged = counts["killed"] + counts["timeout"] + counts["survived"]
    if not judged:
        return "-"
    return f"{(counts['killed'] + counts['timeout']) / judged:.1%}"


def main(argv: list[str] | None = None) -> int:
    """Run the chosen groups; exit 0 when each reached the target share of kills."""
    names = [g.name for g in GROUPS]
    parser = argparse.ArgumentParser(
        prog="python -m bench.mutation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--group", action="append", choices=names, help="default: all")
    parser.add_argument("--fresh", action="store_true", help="drop the sessions, start again")
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="seconds per mutant's test run (180)"
    )
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="test only the finished sessions' survivors again, against the current tests",
    )
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 120)  # a log keeps the names
    tree = WORK / "tree" if args.recheck else prepare_tree(args.fresh)
    console.print(f"mutating a copy of the checkout in {tree}")
    met = True
    for group in [g for g in GROUPS if g.name in (args.group or names)]:
        if args.recheck:
            session = recheck(group, args.timeout, console)
        else:
            session = run_group(group, tree, args.timeout, console)
        per_module, survivors = summarize(group, session)
        table, score = _table(group.name, per_module)
        console.print(table)
        report = WORK / f"{group.name}.md"
        report.write_text(f"# Surviving mutants: {group.name}\n\n" + "\n".join(survivors))
        verdict = "met" if score >= TARGET else "MISSED"
        surviving = sum(counts["survived"] for counts in per_module.values())
        console.print(
            f"{group.name}: {score:.1%} of mutants killed (target {TARGET:.0%}: {verdict}); "
            f"{surviving} survive; they and those killed on a recheck are listed in "
            f"{report.relative_to(ROOT)}"
        )
        met &= score >= TARGET
    return 0 if met else 1
