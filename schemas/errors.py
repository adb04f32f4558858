"""The one error the schemas package raises for bad input."""

from __future__ import annotations

from collections.abc import Mapping


class SchemaError(ValueError):
    """An event that breaks the contract: `field` says where, `reason` says how."""

    def __init__(self, field: str, reason: str) -> None:
        # Both go to args so the error pickles and compares like any ValueError.
        super().__init__(field, reason)
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def json_kind(value: object) -> str:
    """The JSON type name of a decoded value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__
