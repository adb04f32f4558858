"""Errors of the reconciliation client; infrastructure errors are translated to these."""

from __future__ import annotations


class ReconcileError(Exception):
    """Root of the reconciliation errors."""


class ApiError(ReconcileError):
    """The API answered with an error that retrying does not cure (or retries ran out)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class RetryableError(ReconcileError):
    """A 429, a 5xx, a 401 on an expired token, or a broken connection: try again.

    `retry_after_s` is the server's Retry-After, when it sent one.
    """

    def __init__(self, status: int, retry_after_s: float | None = None) -> None:
        super().__init__(f"retryable HTTP {status}")
        self.status = status
        self.retry_after_s = retry_after_s


class AuthError(ReconcileError):
    """The token endpoint refused the credentials (wrong client, dead refresh token)."""


class Unreachable(ReconcileError):
    """The API could not be reached (connection refused, reset or timed out) after retries."""
