"""The wheel installs one import namespace and works outside the checkout."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_IMPORT_ALL = """
import importlib, pkgutil, wxcc_stream
names = [m.name for m in pkgutil.walk_packages(wxcc_stream.__path__, "wxcc_stream.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def _run(*cmd: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{cmd}: {done.stdout}\n{done.stderr}"
    return done.stdout


def _top_level_names(dist_info: Path) -> set[str]:
    names = set()
    for line in (dist_info / "RECORD").read_text().splitlines():
        path = line.split(",", 1)[0]
        if not path.startswith(".."):  # scripts land outside site-packages
            names.add(path.split("/", 1)[0])
    return names


def test_wheel_in_a_fresh_virtualenv(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, ROOT, cwd=ROOT)
    (wheel,) = wheels.glob("wxcc_stream-*.whl")
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    _run(python, "-m", "pip", "install", "-q", wheel, cwd=tmp_path)
    away = tmp_path / "elsewhere"  # not the checkout: nothing importable by accident
    away.mkdir()

    imported = int(_run(python, "-c", _IMPORT_ALL, cwd=away).strip())
    assert imported > 80
    assert "usage: wxcc-stream" in _run(env / "bin" / "wxcc-stream", "--help", cwd=away)
    (dist_info,) = (env / "lib").glob("python3.*/site-packages/wxcc_stream-*.dist-info")
    assert _top_level_names(dist_info) == {"wxcc_stream", dist_info.name}
    for bare in ("ingress", "processors", "projections", "schemas"):
        probe = subprocess.run(
            [python, "-c", f"import {bare}"], cwd=away, capture_output=True, text=True
        )
        assert probe.returncode != 0, f"{bare} is importable as a top-level name"
