"""The API package's exceptions: one root, a leaf per way a request or the feed fails."""

from __future__ import annotations


class ApiError(Exception):
    """Root of every error the API raises on purpose."""


class BadQuery(ApiError):
    """A request parameter cannot be used (answered 400, naming the parameter)."""

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(f"{parameter}: {detail}")
        self.parameter = parameter
        self.detail = detail


class BadDocument(ApiError):
    """A projection record that is not a document this API understands (skipped, counted)."""


class FeedError(ApiError):
    """The projection topics cannot be read (Kafka unreachable, topics missing)."""
