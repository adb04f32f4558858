"""A record the core asks the shell to publish, and its role (the shell knows each role's topic).

Values only, left to the interpreter by the mypyc build (base/compiled_core.py, INTERPRETED):
a msgspec Struct compiled there would lose its class keywords.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = ["Publication", "Role"]


class Role(StrEnum):
    """Where an output record goes."""

    ORDERED = "ordered"
    PROJECTION = "projection"
    LATE = "late"
    DEADLETTER = "deadletter"


class Publication(msgspec.Struct, frozen=True, gc=False):  # one per output: a C constructor
    """A record to publish, by role (the shell knows each role's topic)."""

    role: Role
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
