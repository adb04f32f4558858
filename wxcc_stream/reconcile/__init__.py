"""Reconciliation with the WxCC APIs: what the webhooks lost, read back from the source.

This package is the API side (issue 13): OAuth tokens, a client-side rate limit,
retries with back-off, window splitting and cursor paging (`client`, `oauth`, `fetch`,
`windows`). Publishing what it finds is the job's part, built on top of it.
"""

from __future__ import annotations

from wxcc_stream.reconcile.client import ClientConfig, WxccApiClient
from wxcc_stream.reconcile.errors import (
    ApiError,
    AuthError,
    ReconcileError,
    RetryableError,
    Unreachable,
)
from wxcc_stream.reconcile.fetch import fetch_activities, fetch_captures, search_tasks
from wxcc_stream.reconcile.oauth import Credentials, TokenKeeper
from wxcc_stream.reconcile.windows import Window, halve, split

__all__ = [
    "ApiError",
    "AuthError",
    "ClientConfig",
    "Credentials",
    "ReconcileError",
    "RetryableError",
    "TokenKeeper",
    "Unreachable",
    "Window",
    "WxccApiClient",
    "fetch_activities",
    "fetch_captures",
    "halve",
    "search_tasks",
    "split",
]
