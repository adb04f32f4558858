"""Compile the pure core with mypyc into `build/compiled/` (what `base.compiled_core` loads).

    python -m wxcc_stream.devtools.build_core [--force] [--clean]

The same source, compiled to C: the core's benchmark runs ~25% faster (README,
"Performance"). Nothing changes when it is not built: the modules are then imported from
their source. scripts/bootstrap runs this; it does nothing when the build is current.
Needs a C compiler and Python's headers (a pyenv or Debian python3-dev Python has them).
"""

from __future__ import annotations

import argparse
import importlib.machinery
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from wxcc_stream.base.compiled_core import (
    COMPILED_MODULES,
    INTERPRETED,
    MANIFEST,
    build_dir,
    source_digest,
    source_of,
)

__all__ = ["BuildError", "build", "compiled_sources", "main"]

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # wxcc_stream/
GROUP = "wxcc_stream_core"


def compiled_sources() -> dict[str, Path]:
    """Every module the build compiles, by name, with its source file."""
    out: dict[str, Path] = {}
    for name in COMPILED_MODULES:
        source = source_of(name)
        if source.is_file():
            out[name] = source
            continue
        package = source.with_suffix("")
        for path in sorted(package.glob("*.py")):
            if path.name != "__init__.py":
                out[f"{name}.{path.stem}"] = path
    return {name: path for name, path in out.items() if name not in INTERPRETED}


def _current(root: Path, digests: dict[str, str]) -> bool:
    try:
        manifest = json.loads((root / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return False
    recorded = {name: entry["sha256"] for name, entry in manifest.get("modules", {}).items()}
    return (
        manifest.get("suffix") == importlib.machinery.EXTENSION_SUFFIXES[0] and recorded == digests
    )


def _compile(sources: dict[str, Path], work: Path) -> Path:
    """mypyc over `sources`; the directory the extension modules were built into."""
    # imported here: mypy and setuptools are build tools, not the runtime's dependencies
    from mypyc.build import mypycify
    from setuptools import Distribution

    # mypy names a module by its path from the directory that holds the package
    os.chdir(_PACKAGE_DIR.parent)
    os.environ["MYPY_CACHE_DIR"] = str(work / "mypy-cache")
    paths = [str(Path(_PACKAGE_DIR.name, p.relative_to(_PACKAGE_DIR))) for p in sources.values()]
    # the project's mypy configuration (strict) applies; the C goes to the work directory
    extensions = mypycify(paths, opt_level="3", target_dir=str(work / "c"), group_name=GROUP)
    dist = Distribution({"name": GROUP, "ext_modules": extensions})
    command = dist.get_command_obj("build_ext")
    command.build_lib = str(work / "lib")
    command.build_temp = str(work / "tmp")
    command.ensure_finalized()
    command.run()
    return work / "lib"


@contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (the compiler's too) to `log` for a while."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with log.open("wb") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


class BuildError(RuntimeError):
    """mypyc or the C compiler failed; the message ends with the tail of their output."""


def build(*, force: bool = False) -> tuple[bool, Path]:
    """Build when the sources changed (or `force`): (built now, build directory)."""
    root = build_dir()
    sources = compiled_sources()
    digests = {name: source_digest(path) for name, path in sources.items()}
    if not force and _current(root, digests):
        return False, root
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-core-", dir=root.parent) as tmp:
        work = Path(tmp)
        log = work / "build.log"
        try:
            with _output_to(log):
                lib = _compile(sources, work)
        except (Exception, SystemExit) as exc:  # mypyc exits on a type error
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise BuildError(f"the core did not compile ({exc!r}):\n{tail}") from None
        staged = work / "out"
        modules: dict[str, dict[str, str]] = {}
        for name in sources:
            relative = Path(*name.split(".")).with_suffix(suffix)
            (staged / relative.parent).mkdir(parents=True, exist_ok=True)
            shutil.copy2(lib / relative, staged / relative)
            modules[name] = {"sha256": digests[name], "library": str(relative)}
        runtime = {}
        for library in lib.glob(f"*{suffix}"):  # the group's shared library, at the top
            shutil.copy2(library, staged / library.name)
            runtime[library.name.split(".")[0]] = library.name
        manifest = {"suffix": suffix, "modules": modules, "runtime": runtime}
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        # swap whole directories: a reader sees the old build or the new one
        old = work / "old"
        if root.exists():
            root.rename(old)
        staged.rename(root)
    return True, root


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wxcc_stream.devtools.build_core",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--force", action="store_true", help="build even when it is current")
    parser.add_argument("--clean", action="store_true", help="remove the build and stop")
    args = parser.parse_args(argv)
    root = build_dir()
    if args.clean:
        shutil.rmtree(root, ignore_errors=True)
        print(f"build_core: removed {root}")
        return 0
    started = time.monotonic()
    try:
        built, root = build(force=args.force)
    except BuildError as exc:
        print(f"build_core: {exc}", file=sys.stderr)
        return 1
    if built:
        took = time.monotonic() - started
        print(f"build_core: compiled {len(compiled_sources())} modules into {root} in {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
