"""`python -m bench [--quick]`: run every part's benchmark, each as its own command (the
same `python -m bench.<part>` a person runs alone), then print ONE table: each figure with
its baseline measured in the same run, the ratio and the target. The results go to
`bench/results/<date>-<machine>.json` with a PNG of the soak (throughput, p99 and RSS over
time); `--readme` then rewrites the README's benchmark block from them.

The parts that take a broker share one the suite starts (the ingress starts its own, to
measure the broker's CPU; the soak too, since it restarts it). `--quick` is a smoke run of
every part with small sizes: its figures are not comparable with a full run's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from bench.processor.run import broker
from bench.suite.parts import PARTS, SOAK, Part, Row, rows_from_output, soak_rows
from bench.suite.plot import soak_png
from bench.suite.readme import rewrite
from bench.suite.table import render_text, results_doc, rows_of, updated_doc

ROOT = Path(__file__).resolve().parents[2]
APT_PACKAGES = {"wrk": "wrk"}  # program -> Debian package that installs it


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
    except (OSError, StopIteration):
        kib = 0
    return {
        "hostname": socket.gethostname(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(kib / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def install(programs: Sequence[str]) -> list[str]:
    """Install the missing programs with apt-get (as the machine's root); those still
    missing afterwards."""
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        packages = [APT_PACKAGES.get(p, p) for p in missing]
        print(f"installing {', '.join(packages)} (apt-get) ...", flush=True)
        install = ["apt-get", "install", "-y", "-q", *packages]
        if subprocess.run(install, check=False).returncode != 0:
            # a fresh machine's package lists may be missing or stale
            subprocess.run(["apt-get", "update", "-q"], check=False)
            subprocess.run(install, check=False)
    return [p for p in programs if shutil.which(p) is None]


def run_part(argv: Sequence[str], log: Path, name: str, timeout_s: float) -> tuple[int, str]:
    """Run `python argv`, echoing its output prefixed with the part's name; (exit code,
    output). A part over its time is stopped (exit code -9)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    lines: list[str] = []
    with log.open("w") as out, subprocess.Popen(
        [sys.executable, *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    ) as child:  # fmt: skip
        assert child.stdout is not None
        timer = threading.Timer(timeout_s, child.kill)
        timer.start()
        try:
            for line in child.stdout:
                out.write(line)
                lines.append(line)
                print(f"[{name}] {line}", end="", flush=True)
            code = child.wait()
        finally:
            timer.cancel()
    return code, "".join(lines)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "machine"


def main(argv: Sequence[str] | None = None) -> int:
    names = [p.name for p in (*PARTS, SOAK)]
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a short smoke run of every part")
    parser.add_argument(
        "--parts", default=",".join(names), help=f"comma-separated, of {','.join(names)}"
    )
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--readme", action="store_true", help="rewrite README's table after")
    parser.add_argument(
        "--update", action="store_true",
        help="measure only --parts again and replace their rows in today's results file "
        "(the other parts' rows stay as they were measured; the README says which were redone)",
    )  # fmt: skip
    parser.add_argument("--part-timeout", type=float, default=3600, help="seconds per part")
    args = parser.parse_args(argv)
    chosen = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        parser.error(f"unknown parts: {', '.join(unknown)}")
    parts = [p for p in PARTS if p.name in chosen]
    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    ran: dict[str, dict[str, Any]] = {}
    soak: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
        work = Path(tmp)
        print(f"logs of this run: {work} (kept until the run ends)", flush=True)
        needs_broker = any(p.takes_bootstrap for p in parts)
        with broker(None) if needs_broker else _no_broker() as bootstrap:
            for part in parts:
                rows += _one(part, args, bootstrap, work, ran)
        if SOAK.name in chosen:
            soak = _soak(args, work, ran)
            rows += soak_rows(soak) if soak else [Row("soak", "soak", None, "", note="failed")]
    load_after = os.getloadavg()[0]
    print()
    print(render_text(rows))
    info = machine()
    name = f"{started:%Y-%m-%d}-{_slug(info['hostname'])}"
    args.results.mkdir(parents=True, exist_ok=True)
    doc = results_doc(
        rows, info, started=f"{started:%Y-%m-%d %H:%M} UTC", quick=args.quick,
        load_before=round(load_before, 2), load_after=round(load_after, 2),
        parts=ran, soak=soak,
    )  # fmt: skip
    path = args.results / f"{name}.json"
    if args.update and path.exists():
        old = orjson.loads(path.read_bytes())
        if bool(old["run"].get("quick")) != args.quick:
            parser.error(f"--update: {path.name} is from a {'quick' if args.quick else 'full'} run")
        order = [p.name for p in PARTS] + [SOAK.name]
        doc = updated_doc(old, doc, [p.name for p in parts] + (["soak"] if soak else []), order)
        soak = doc["run"].get("soak")
        print(render_text(rows_of(doc)))
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    print(f"\nresults: {path}")
    if soak:
        png = path.with_suffix(".png")
        try:
            soak_png(soak, png, f"soak, {doc['run']['started']}, {info['cpus']} CPUs")
            print(f"plot: {png}")
        except ImportError:
            print("no plot: matplotlib is missing (pip install -e '.[test]')")
    if args.readme:
        rewrite(ROOT / "README.md", path)
        print("README.md: benchmark block rewritten")
    return 0 if all(code == 0 for code in (r["exit"] for r in ran.values())) else 1


@contextmanager
def _no_broker() -> Iterator[str | None]:
    yield None


def _one(
    part: Part, args: argparse.Namespace, bootstrap: str | None, work: Path,
    ran: dict[str, dict[str, Any]],
) -> list[Row]:  # fmt: skip
    missing = install(part.needs)
    if missing:
        ran[part.name] = {"exit": None, "seconds": 0, "note": f"missing {missing}"}
        return [Row(part.name, s.row, None, s.unit, note=f"not run: {missing} missing")
                for s in part.rows]  # fmt: skip
    argv = part.argv(quick=args.quick, bootstrap=bootstrap)
    print(f"\n=== python {' '.join(argv)}", flush=True)
    began = time.monotonic()
    code, output = run_part(argv, work / f"{part.name}.log", part.name, args.part_timeout)
    ran[part.name] = {"exit": code, "seconds": round(time.monotonic() - began, 1),
                      "argv": argv}  # fmt: skip
    return rows_from_output(part, output)


def _soak(
    args: argparse.Namespace, work: Path, ran: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    out = work / "soak.json"
    argv = [*SOAK.argv(quick=args.quick, bootstrap=None), "--json", str(out)]
    print(f"\n=== python {' '.join(argv)}", flush=True)
    began = time.monotonic()
    code, _ = run_part(argv, work / "soak.log", "soak", args.part_timeout)
    ran["soak"] = {"exit": code, "seconds": round(time.monotonic() - began, 1), "argv": argv}
    if not out.exists():
        return None
    doc: dict[str, Any] = orjson.loads(out.read_bytes())
    return doc
