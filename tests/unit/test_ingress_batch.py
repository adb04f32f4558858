"""Splitting a batch body into each event's own bytes, exactly as received."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wxcc_stream.ingress.batch import split_array

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=8)
    | st.sampled_from(['"', "\\", ",", "]", "}", "[", "{", '\\"', "\\\\"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)
whitespace = st.text(alphabet=" \t\r\n", max_size=3)


@given(items=st.lists(json_values, max_size=6), pads=st.lists(whitespace, min_size=14))
def test_each_element_decodes_to_the_item(items: list[Any], pads: list[str]) -> None:
    # build the array by hand with random whitespace around every element
    parts = [orjson.dumps(item) for item in items]
    body = pads[0].encode() + b"["
    for i, part in enumerate(parts):
        body += (b"," if i else b"") + pads[1 + i].encode() + part + pads[7 + i].encode()
    body += b"]" + pads[13].encode()
    assert orjson.loads(body) == items
    assert split_array(body) == parts


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[]", []),
        (b"[ ]", []),
        (b'[{"a":"],}"}, [1,[2]] ,"x"]', [b'{"a":"],}"}', b"[1,[2]]", b'"x"']),
        (b'[{"a":"\\\\"},{"b":"\\""}]', [b'{"a":"\\\\"}', b'{"b":"\\""}']),
    ],
)
def test_split_array_examples(body: bytes, expected: list[bytes]) -> None:
    assert split_array(body) == expected
