"""The ingress package's exceptions: one root, a leaf per way the shell can fail."""

from __future__ import annotations


class IngressError(Exception):
    """Root of every error the ingress raises on purpose."""


class PublishError(IngressError):
    """Kafka did not acknowledge a record (unreachable, timed out, or refused it)."""


class SpoolError(IngressError):
    """The local spool could not be written or read durably."""
