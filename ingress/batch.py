"""Split a JSON array's bytes into each element's own bytes, exactly as received. Pure."""

from __future__ import annotations

import re

# A JSON string (escapes included) or a structural character; everything else
# (numbers, literals, whitespace) lies between matches and needs no attention.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]', re.DOTALL)
_WS = b" \t\r\n"


def split_array(body: bytes) -> list[bytes]:
    """Each top-level element of a JSON array, its surrounding whitespace removed.

    The body must already be known to be a valid JSON array (decode it first): this
    only finds element boundaries, skipping over strings so that commas or brackets
    inside them do not count.
    """
    elements: list[bytes] = []
    depth = 0
    start = -1
    for match in _TOKENS.finditer(body):
        token = body[match.start()]
        if token == 0x22:  # a string: only its position matters
            continue
        if token in b"[{":
            depth += 1
            if depth == 1:
                start = match.end()
        elif token in b"]}":
            depth -= 1
            if depth == 0:
                element = body[start : match.start()].strip(_WS)
                if element or elements:
                    elements.append(element)
                break
        elif depth == 1:  # a comma between two top-level elements
            elements.append(body[start : match.start()].strip(_WS))
            start = match.end()
    return elements
