"""Mutants that cannot change behaviour: edits inside a function's type annotations.

With `from __future__ import annotations` a signature's annotations are strings that
nothing in the mutated modules evaluates (msgspec reads a Struct's field annotations, which
are not signatures), so `str | None` turned into `str ^ None` runs the same code. cosmic-ray
mutates them all the same (BitOr in a union, a subscript's index...): they are marked
skipped before the run instead of costing a full test run each and being listed as
survivors.
"""

from __future__ import annotations

import ast

Span = tuple[tuple[int, int], tuple[int, int]]
"""((line, column), (end line, end column)), lines 1-based, columns 0-based."""


def _signature_annotations(tree: ast.Module) -> list[ast.expr]:
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            every = [
                *arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                *(a for a in (arguments.vararg, arguments.kwarg) if a is not None),
            ]  # fmt: skip
            found.extend(a.annotation for a in every if a.annotation is not None)
            if node.returns is not None:
                found.append(node.returns)
    return found


def annotation_spans(source: str) -> list[Span]:
    """The spans of the signatures' annotations of a module whose annotations are never
    evaluated (it has `from __future__ import annotations`); none otherwise."""
    tree = ast.parse(source)
    postponed = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )
    if not postponed:
        return []
    return [
        ((a.lineno, a.col_offset), (a.end_lineno or a.lineno, a.end_col_offset or 0))
        for a in _signature_annotations(tree)
    ]


def within(spans: list[Span], start: tuple[int, int], end: tuple[int, int]) -> bool:
    """True when the edit from `start` to `end` lies inside one of `spans`."""
    return any(low <= start and end <= high for low, high in spans)
