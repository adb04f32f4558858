"""bench/mutation/annotations.py: which mutants are skipped as edits of annotations that
nothing evaluates (only a signature's, and only with postponed evaluation)."""

from __future__ import annotations

from bench.mutation.annotations import annotation_spans, within

POSTPONED = """from __future__ import annotations

Alias = int | None


class Row:
    field: int | None = None


def f(a: int | None, *rest: str | bytes, key: dict[str, int] | None = None) -> str | None:
    return a | 1
"""


def test_a_signatures_annotations_are_spans_and_nothing_else_is() -> None:
    spans = annotation_spans(POSTPONED)
    line = POSTPONED.splitlines()[9]
    inside = [
        (10, line.index("int | None")),
        (10, line.index("str | bytes")),
        (10, line.index("dict[str, int] | None")),
        (10, line.index("-> str") + 3),
    ]
    for start in inside:
        assert any(low <= start <= high for low, high in spans), start
    # the body, a module-level alias (evaluated at import) and a class field (msgspec and
    # dataclasses read those) are not
    assert not within(spans, (11, 11), (11, 16))
    assert not within(spans, (3, 8), (3, 18))
    assert not within(spans, (7, 11), (7, 21))
    # an edit must lie wholly inside one annotation
    a = line.index("int | None")
    assert within(spans, (10, a + 4), (10, a + 5))
    assert not within(spans, (10, a + 4), (11, 0))


def test_without_postponed_evaluation_nothing_is_skipped() -> None:
    source = POSTPONED.replace("from __future__ import annotations\n", "")
    assert annotation_spans(source) == []
