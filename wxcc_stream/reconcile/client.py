"""The HTTP client of the WxCC APIs: token, client-side rate limit, retries with back-off.

Every request waits for the rate limiter (aiolimiter, `requests_per_minute`), carries a
fresh bearer token and a TrackingId, and is retried by stamina on 429 and 5xx (honouring
Retry-After), on a 401 (after dropping the refused token) and on broken connections.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import stamina
from aiolimiter import AsyncLimiter

from wxcc_stream.base.settings import ReconcileSettings
from wxcc_stream.reconcile.errors import ApiError, RetryableError, Unreachable
from wxcc_stream.reconcile.oauth import Credentials, TokenKeeper, retry_after


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Where the APIs are, who we are, and how hard to try."""

    base_url: str
    token_url: str
    credentials: Credentials
    org_id: str = ""
    requests_per_minute: int = 300
    token_margin_s: float = 60.0
    attempts: int = 10
    wait_initial_s: float = 0.5
    max_backoff_s: float = 60.0
    request_timeout_s: float = 60.0
    activity_page_size: int = 1000

    @classmethod
    def from_settings(cls, s: ReconcileSettings) -> ClientConfig:
        """The client's configuration from the `reconcile` settings."""
        return cls(
            base_url=s.base_url.rstrip("/"),
            token_url=s.token_url,
            credentials=Credentials(s.client_id, s.client_secret, s.refresh_token),
            org_id=s.org_id,
            requests_per_minute=s.requests_per_minute,
            token_margin_s=s.token_margin_s,
            attempts=s.attempts,
            max_backoff_s=s.max_backoff_s,
            request_timeout_s=s.request_timeout_s,
            activity_page_size=s.activity_page_size,
        )


def backoff(exc: Exception) -> bool | float:
    """stamina's hook: retry which errors, and after how long when the server says so."""
    if isinstance(exc, RetryableError):
        return True if exc.retry_after_s is None else exc.retry_after_s
    return isinstance(exc, aiohttp.ClientConnectionError | asyncio.TimeoutError)


class WxccApiClient:
    """JSON requests to the WxCC APIs on one aiohttp session."""

    def __init__(
        self,
        config: ClientConfig,
        http: aiohttp.ClientSession,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._http = http
        self.limiter = AsyncLimiter(config.requests_per_minute, 60)
        self.tokens = TokenKeeper(
            config.token_url, config.credentials, margin_s=config.token_margin_s, clock=clock
        )
        self.stats: Counter[str] = Counter()

    async def get(self, path: str, params: Mapping[str, str | int]) -> Any:
        """GET `path` with a query string; the decoded JSON answer."""
        return await self._call("GET", path, params=params)

    async def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST a JSON body to `path`; the decoded JSON answer."""
        return await self._call("POST", path, body=body)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        c = self.config
        try:
            async for attempt in stamina.retry_context(
                on=backoff,
                attempts=c.attempts,
                timeout=None,
                wait_initial=c.wait_initial_s,
                wait_max=c.max_backoff_s,
            ):
                with attempt:
                    return await self._once(method, path, params, body)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Unreachable(f"{method} {path}: {exc!r}") from exc
        raise AssertionError("stamina ends by returning or raising")  # pragma: no cover

    async def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        body: Mapping[str, Any] | None,
    ) -> Any:
        await self.limiter.acquire()
        self.stats["requests"] += 1
        token = await self.tokens.bearer(self._http)
        headers = {"Authorization": f"Bearer {token}", "TrackingId": f"wxcc-stream_{uuid.uuid4()}"}
        query = None if params is None else {k: str(v) for k, v in params.items()}
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_s)
        async with self._http.request(
            method, self.config.base_url + path, params=query, json=body, headers=headers,
            timeout=timeout,
        ) as answer:  # fmt: skip
            status = answer.status
            if status == 401:
                self.tokens.rejected(token)
            if status in (401, 429) or status >= 500:
                self.stats[str(status)] += 1
                raise RetryableError(status, retry_after(answer.headers))
            if status >= 400:
                raise ApiError(status, (await answer.text())[:500])
            return await answer.json()
