"""py-spy profiles of a benchmarked process: record one stage, print its top functions.

`Profile(pid, path)` samples a running process with py-spy (collapsed stacks, grouped by
function) until stopped; `top_functions` reads such a file and `print_top` prints the
functions that hold most samples, inclusive and self, as the README quotes them.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

__all__ = ["Profile", "Share", "print_top", "top_functions"]


class Share(NamedTuple):
    """A function's share of the samples: with its callees (inclusive) and alone (self)."""

    function: str
    inclusive: float
    self: float


class Profile:
    """`py-spy record` attached to `pid`, writing collapsed stacks to `path` when stopped."""

    def __init__(self, pid: int, path: Path, rate: int = 200, *, native: bool = False) -> None:
        spy = shutil.which("py-spy")
        if spy is None:
            raise RuntimeError("py-spy is not installed (pip install -e '.[test]')")
        self.path = path
        # native frames (C extensions, the interpreter's collector) need the process paused
        # at each sample: py-spy refuses --native with --nonblocking
        mode = ["--native"] if native else ["--nonblocking"]
        self.proc = subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
             "--function", *mode, "--output", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    def stop(self) -> Path:
        """Stop sampling; py-spy writes the file as it exits on SIGINT."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return self.path


def top_functions(lines: Iterable[str], count: int = 15, focus: str = "") -> list[Share]:
    """The `count` functions with the most inclusive samples in collapsed-stack `lines`;
    with `focus`, only the stacks through a function of that name, as shares of those."""
    inclusive: Counter[str] = Counter()
    alone: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, n = line.rstrip().rpartition(" ")
        if not stack or not n.isdigit():
            continue
        samples = int(n)
        frames = [_short(f) for f in stack.split(";")]
        if focus:
            at = next((i for i, f in enumerate(frames) if f.startswith(focus + " ")), None)
            if at is None:
                continue
            frames = frames[at:]
        total += samples
        for frame in set(frames):
            inclusive[frame] += samples
        alone[frames[-1]] += samples
    if not total:
        return []
    # the process's own entry frames hold every sample: they say nothing
    ranked = [(f, n) for f, n in inclusive.most_common() if n < total or f.startswith(focus)]
    return [Share(f, n / total, alone[f] / total) for f, n in ranked[:count]]


def _short(frame: str) -> str:
    """`function (path/to/module.py)` -> `function (module.py)`."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rstrip(')').rsplit('/', 1)[-1]})" if where else name


def print_top(path: Path, title: str, count: int = 15, focus: str = "") -> None:
    """Print the top functions of the profile at `path` (see `top_functions`)."""
    if not path.exists():
        print(f"    (no profile written to {path})", flush=True)
        return
    shares = top_functions(path.read_text(errors="replace").splitlines(), count, focus)
    print(f"    py-spy, {title}: inclusive / self share of samples ({path})", flush=True)
    for share in shares:
        print(f"      {share.inclusive:6.1%} {share.self:6.1%}  {share.function}", flush=True)
