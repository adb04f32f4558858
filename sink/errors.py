"""The sink's exceptions: one root, leaves beside the code that raises them."""

from __future__ import annotations


class SinkError(Exception):
    """Root of the sink's errors."""


class BadDocument(SinkError):
    """A projection record that is not a usable document (skipped and counted)."""


class MigrationError(SinkError):
    """The database's schema is not one this sink can bring up to date."""


class NewerSchema(SinkError):
    """A document of a `schema_version` this sink does not know: it may mean something
    else (docs/consumers.md, "Schema evolution"), so the sink stops before writing it."""
