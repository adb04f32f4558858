"""The layout cannot decay: the import floors hold, and everything is imported through the
one `wxcc_stream` namespace (the service folders at the root are reached by symlinks)."""

from __future__ import annotations

import ast
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
SERVICE_FOLDERS = ("api", "ingress", "processors", "projections", "schemas", "sink")
SCANNED = ("wxcc_stream", *SERVICE_FOLDERS, "tests", "bench")


def _python_files() -> Iterator[Path]:
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            # the symlinked service folders are scanned once, under their own name
            if top == "wxcc_stream" and path.relative_to(ROOT / top).parts[0] in SERVICE_FOLDERS:
                continue
            yield path


def _bare_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [
            f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
            for name in names
            if name.split(".")[0] in SERVICE_FOLDERS
        ]
    return found


def test_import_floors_hold() -> None:
    """The import-linter contracts in pyproject.toml (floors, pure folds and formats)."""
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_the_processors_layers_are_contracts() -> None:
    """The pure core and the shell are told apart by contracts, not by docstrings: removing
    one from pyproject.toml fails here."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = {c["name"]: c for c in config["tool"]["importlinter"]["contracts"]}
    layers = contracts["processors: replay > shell > ops > core and storage"]
    assert layers["layers"] == ["replay", "shell", "ops", "core : storage"]
    pure = contracts["pure processors core: no Kafka, HTTP or Faust client in core/ and storage/"]
    assert {"faust", "aiokafka", "aiohttp"} <= set(pure["forbidden_modules"])
    replay = contracts[
        "the replay's pure parts: plan, state, generations and job import no Kafka, HTTP "
        "or Faust client"
    ]
    assert {"faust", "aiokafka"} <= set(replay["forbidden_modules"])


@pytest.mark.parametrize("folder", SERVICE_FOLDERS)
def test_service_folders_are_reached_through_the_namespace(folder: str) -> None:
    link = ROOT / "wxcc_stream" / folder
    assert link.is_symlink(), f"wxcc_stream/{folder} must be a symlink to ../{folder}"
    assert os.readlink(link) == f"../{folder}"
    assert link.resolve() == (ROOT / folder).resolve()


def test_nothing_imports_a_bare_top_level_package() -> None:
    """`import ingress` would load a second copy of the module beside
    `wxcc_stream.ingress` (and fails once installed): only the namespace is imported."""
    files = list(_python_files())
    assert len(files) > 100  # the scan found the code, not an empty folder
    offenders = [line for path in files for line in _bare_imports(path)]
    assert offenders == []


def test_the_bare_import_check_sees_one() -> None:
    tree = "from processors.entity import accept\nimport schemas.event\n"
    probe = ROOT / "tests" / "unit" / "_layout_probe.py"
    probe.write_text(tree)
    try:
        assert len(_bare_imports(probe)) == 2
    finally:
        probe.unlink()


def test_the_reconciliation_client_sits_on_the_services_floor() -> None:
    """The client (wxcc_stream.reconcile) is a service: the API simulator, a dev tool one
    floor up, may use it in tests' wiring, never the other way round; the simulator's pure
    parts and the client's windowing are kept free of HTTP by their own contracts."""
    text = (ROOT / "pyproject.toml").read_text()
    assert "wxcc_stream.processors | wxcc_stream.reconcile" in text
    assert '"wxcc_stream.reconcile.windows"' in text
    assert '"wxcc_stream.devtools.wxcc_api.paging"' in text
