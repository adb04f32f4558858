"""The code blocks of docs/consumers.md, found by the heading they follow."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "consumers.md"


def block(heading: str, language: str) -> str:
    """The first `language` code block after `heading` (a line of the document)."""
    text = DOC.read_text()
    assert heading in text, f"docs/consumers.md has no {heading!r}"
    after = text.split(heading, 1)[1]
    found = re.search(rf"```{language}\n(.*?)```", after, re.S)
    assert found, f"no {language} block after {heading!r}"
    return found.group(1)
