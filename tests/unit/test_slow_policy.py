"""A test marked slow is never dropped from CI: CI runs it bounded by `soak_seconds`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _is_slow_mark(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Attribute) and target.attr == "slow"


def _module_is_slow(tree: ast.Module) -> bool:
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets
        ):
            marks = stmt.value.elts if isinstance(stmt.value, ast.List) else [stmt.value]
            if any(_is_slow_mark(m) for m in marks):
                return True
    return False


def slow_tests_without_a_bound(path: Path, root: Path = ROOT) -> list[str]:
    """Test functions marked slow (or in a slow module) that do not take `soak_seconds`."""
    tree = ast.parse(path.read_text())
    whole = _module_is_slow(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not node.name.startswith("test"):
            continue
        if whole or any(_is_slow_mark(d) for d in node.decorator_list):
            params = {a.arg for a in node.args.args + node.args.kwonlyargs}
            if "soak_seconds" not in params:
                found.append(f"{path.relative_to(root)}::{node.name}")
    return found


def test_every_slow_test_is_bounded_by_soak_seconds() -> None:
    offenders = [
        name for path in sorted((ROOT / "tests").rglob("test_*.py"))
        for name in slow_tests_without_a_bound(path)
    ]  # fmt: skip
    assert offenders == []


def test_the_test_command_does_not_deselect_slow_tests() -> None:
    script = (ROOT / "scripts" / "test").read_text()
    assert "not slow" not in script
    assert "WXCC_SOAK_SECONDS" in script


def test_the_check_finds_an_unbounded_slow_test(tmp_path: Path) -> None:
    # the policy test must be able to fail: a slow test without the bound is reported
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "import pytest\n\n@pytest.mark.slow\ndef test_soak():\n    pass\n\n"
        "@pytest.mark.slow\ndef test_bounded(soak_seconds):\n    pass\n"
    )
    assert slow_tests_without_a_bound(sample, root=tmp_path) == ["test_sample.py::test_soak"]
    sample.write_text(
        "import pytest\n\npytestmark = [pytest.mark.slow]\n\ndef test_a():\n    pass\n"
    )
    assert slow_tests_without_a_bound(sample, root=tmp_path) == ["test_sample.py::test_a"]
