"""`python -m bench.suite.readme`: rewrite the README's marked benchmark block from the
latest results file in bench/results (the newest by name: `<date>-<machine>.json`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from bench.suite.table import readme_block, replace_block

ROOT = Path(__file__).resolve().parents[2]


def latest(results: Path) -> Path | None:
    files = sorted(results.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name))
    return files[-1] if files else None


def rewrite(readme: Path, results_file: Path) -> None:
    doc = orjson.loads(results_file.read_bytes())
    png = results_file.with_suffix(".png")
    block = readme_block(doc, results_file.name, png.name if png.exists() else None)
    readme.write_text(replace_block(readme.read_text(), block))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suite.readme", description=__doc__)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args(argv)
    found = latest(args.results)
    if found is None:
        print(f"no results in {args.results}: run `python -m bench` first", file=sys.stderr)
        return 2
    rewrite(args.readme, found)
    print(f"{args.readme}: benchmark block rewritten from {found.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
