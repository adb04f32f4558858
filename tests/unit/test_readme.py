"""The README's set-up commands are the ones CI and users run, so the docs cannot rot."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the README's 'Two commands' section has a sh code block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_has_exactly_two_setup_commands() -> None:
    assert _setup_commands() == ["./scripts/run --simulate", "./scripts/test"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test" in ci
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_readme_scripts_exist_and_are_executable() -> None:
    for command in _setup_commands():
        script = ROOT / command.split()[0]
        assert script.is_file(), script
        assert os.access(script, os.X_OK), script


def test_test_script_treats_no_tests_as_failure() -> None:
    assert '"$rc" -eq 5' in (ROOT / "scripts" / "test").read_text()


def test_run_flags_in_readme_exist() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "wxcc_stream.cli", "run", "--help"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    for command in _setup_commands():
        if command.startswith("./scripts/run"):
            for flag in command.split()[1:]:
                assert flag in help_text, flag
