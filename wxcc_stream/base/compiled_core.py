"""The pure core compiled by mypyc, loaded only where it was built from the source here now.

`python -m wxcc_stream.devtools.build_core` (scripts/bootstrap runs it) compiles the pure
modules (`COMPILED_MODULES`: the processors' core and storage formats, the projections, the
event) into `build/compiled/` next to the package, with a manifest of each source's hash.
`install()`, run by the first import of `wxcc_stream`, puts a finder in front of the import
system that loads those modules from the build: all of them or none. One compiled module
calls another directly, not through its module, so a build with any source changed since is
stale and every module is then imported from its source. `WXCC_COMPILED=0` turns the build
off; `WXCC_COMPILED_DIR` names another build (tests use it).

This module imports only the standard library: it runs before anything else of ours.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.abc import MetaPathFinder
from pathlib import Path
from types import ModuleType

__all__ = [
    "COMPILED_MODULES",
    "INTERPRETED",
    "MANIFEST",
    "CoreBuild",
    "build_dir",
    "core_build",
    "install",
    "source_digest",
]

COMPILED_MODULES = (
    "wxcc_stream.processors.core",
    "wxcc_stream.processors.storage",
    "wxcc_stream.projections",
    "wxcc_stream.schemas.event",
)
"""Packages (every module in them but `__init__`) and modules the build compiles."""

INTERPRETED = (
    "wxcc_stream.processors.core.outcome",
    "wxcc_stream.processors.core.publication",
    "wxcc_stream.projections.states",
    "wxcc_stream.schemas.event",
)
"""Modules of those left to the interpreter: each defines a msgspec Struct, and mypyc drops a
class's keywords (`frozen=True`, `gc=False`) when it builds one (the frozen-values test)."""

MANIFEST = "manifest.json"
_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # wxcc_stream/


@dataclass(frozen=True, slots=True)
class CoreBuild:
    """What `install()` found: whether the core runs compiled, and why (for a log line)."""

    compiled: bool
    reason: str
    modules: int = 0


def build_dir() -> Path:
    """Where the build is: `WXCC_COMPILED_DIR`, else `build/compiled` beside the package."""
    named = os.environ.get("WXCC_COMPILED_DIR")
    return Path(named) if named else _PACKAGE_DIR.parent / "build" / "compiled"


def source_digest(path: Path) -> str:
    """The hash of a source file that the manifest records."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_of(module: str) -> Path:
    """The source file of one of our modules (`wxcc_stream.x.y` -> wxcc_stream/x/y.py)."""
    return _PACKAGE_DIR.joinpath(*module.split(".")[1:]).with_suffix(".py")


class _CompiledFinder(MetaPathFinder):
    """Finds the compiled modules of a checked build, and nothing else."""

    def __init__(self, libraries: dict[str, Path]) -> None:
        self.libraries = libraries

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        library = self.libraries.get(fullname)
        if library is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(library))
        return importlib.util.spec_from_file_location(fullname, library, loader=loader)


_STATE: list[CoreBuild] = []


def _check(root: Path) -> tuple[CoreBuild, dict[str, Path]]:
    """The build in `root`, checked against the sources here: (verdict, libraries by name)."""
    try:
        manifest = json.loads((root / MANIFEST).read_bytes())
    except FileNotFoundError:
        return CoreBuild(False, f"interpreted: no build in {root}"), {}
    except (OSError, ValueError) as exc:
        return CoreBuild(False, f"interpreted: unreadable manifest in {root} ({exc})"), {}
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    if manifest.get("suffix") != suffix:
        return CoreBuild(False, f"interpreted: the build is for {manifest.get('suffix')}"), {}
    libraries: dict[str, Path] = {}
    for name, entry in manifest["modules"].items():
        source = source_of(name)
        if not source.is_file() or source_digest(source) != entry["sha256"]:
            return CoreBuild(
                False,
                f"interpreted: the build in {root} is stale ({source.name} changed since;"
                " run `python -m wxcc_stream.devtools.build_core`)",
            ), {}
        libraries[name] = root / entry["library"]
    for name, library in manifest["runtime"].items():
        libraries[name] = root / library
    missing = [str(p) for p in libraries.values() if not p.is_file()]
    if missing:
        return CoreBuild(False, f"interpreted: the build lacks {missing[0]}"), {}
    count = len(manifest["modules"])
    return CoreBuild(True, f"compiled by mypyc ({count} modules)", count), libraries


def install() -> CoreBuild:
    """Load the core from a current build from now on, if there is one (once per process)."""
    if _STATE:
        return _STATE[0]
    if os.environ.get("WXCC_COMPILED", "1") == "0":
        verdict = CoreBuild(False, "interpreted: WXCC_COMPILED=0")
    else:
        verdict, libraries = _check(build_dir())
        if verdict.compiled:
            already = sorted(set(libraries) & set(sys.modules))
            if already:  # imported from source before us: mixing would run two cores
                verdict = CoreBuild(False, f"interpreted: {already[0]} was imported first")
            else:
                sys.meta_path.insert(0, _CompiledFinder(libraries))
    _STATE.append(verdict)
    return verdict


def core_build() -> CoreBuild:
    """How this process runs the core (what `install()` decided)."""
    return install()
