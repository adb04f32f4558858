"""Hypothesis strategies for arbitrary JSON values, as event bodies can carry them."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def json_text(max_size: int) -> st.SearchStrategy[str]:
    """Strings orjson can write (no lone surrogates; JSON bodies cannot carry them)."""
    return st.text(st.characters(codec="utf-8"), max_size=max_size)


def json_values(*, text_size: int, width: int, leaves: int) -> st.SearchStrategy[Any]:
    """Nested JSON: scalars (64-bit ints, finite floats), lists and objects up to `width`."""
    text = json_text(text_size)
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**63 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | text
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=width) | st.dictionaries(text, inner, max_size=width)
        ),
        max_leaves=leaves,
    )
