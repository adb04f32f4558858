"""OAuth tokens for the WxCC APIs: refresh before expiry, keep the newest refresh token.

`Tokens` and its functions are pure (times in seconds on an injected monotonic clock);
`TokenKeeper` does the one HTTP call, behind a lock so concurrent requests refresh once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from wxcc_stream.reconcile.errors import AuthError, RetryableError


@dataclass(frozen=True, slots=True)
class Credentials:
    """A client (Service App or integration); `refresh_token` empty: client credentials."""

    client_id: str
    client_secret: str = ""
    refresh_token: str = ""

    def __repr__(self) -> str:  # never print secrets
        return f"Credentials(client_id={self.client_id!r})"


@dataclass(frozen=True, slots=True)
class Tokens:
    """The current access token and the newest refresh token, with their expiry times."""

    access: str
    access_expires: float
    refresh: str
    refresh_expires: float | None

    def __repr__(self) -> str:
        return (
            f"Tokens(access_expires={self.access_expires}, refresh_expires={self.refresh_expires})"
        )


def from_answer(answer: Mapping[str, Any], now: float, previous_refresh: str) -> Tokens:
    """Tokens from the endpoint's answer; lifetimes are read from it, never assumed."""
    refresh = str(answer.get("refresh_token") or previous_refresh)
    refresh_in = answer.get("refresh_token_expires_in")
    return Tokens(
        access=str(answer["access_token"]),
        access_expires=now + float(answer["expires_in"]),
        refresh=refresh,
        refresh_expires=None if refresh_in is None else now + float(refresh_in),
    )


def needs_refresh(tokens: Tokens | None, now: float, margin_s: float) -> bool:
    """Is there no usable access token `margin_s` from now?"""
    return tokens is None or now >= tokens.access_expires - margin_s


def grant_form(credentials: Credentials, tokens: Tokens | None, now: float) -> dict[str, str]:
    """The token request: refresh with the newest live refresh token, else client credentials."""
    form = {"client_id": credentials.client_id, "client_secret": credentials.client_secret}
    refresh = credentials.refresh_token if tokens is None else tokens.refresh
    alive = tokens is None or tokens.refresh_expires is None or now < tokens.refresh_expires
    if refresh and alive:
        return {**form, "grant_type": "refresh_token", "refresh_token": refresh}
    return {**form, "grant_type": "client_credentials"}


class TokenKeeper:
    """Hands out a bearer token, refreshing it before it expires or after a 401."""

    def __init__(
        self,
        token_url: str,
        credentials: Credentials,
        *,
        margin_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._url = token_url
        self._credentials = credentials
        self._margin = margin_s
        self._clock = clock
        self._tokens: Tokens | None = None
        self._lock = asyncio.Lock()
        self.refreshes = 0

    @property
    def refresh_token(self) -> str:
        """The newest refresh token (to keep for the next run)."""
        return self._credentials.refresh_token if self._tokens is None else self._tokens.refresh

    async def bearer(self, http: aiohttp.ClientSession) -> str:
        """A valid access token, refreshed first when it is about to expire."""
        async with self._lock:
            if needs_refresh(self._tokens, self._clock(), self._margin):
                await self._refresh(http)
            assert self._tokens is not None
            return self._tokens.access

    def rejected(self, access: str) -> None:
        """The API refused this token (401): the next `bearer` gets a new one."""
        if self._tokens is not None and self._tokens.access == access:
            self._tokens = Tokens("", 0.0, self._tokens.refresh, self._tokens.refresh_expires)

    async def _refresh(self, http: aiohttp.ClientSession) -> None:
        now = self._clock()
        form = grant_form(self._credentials, self._tokens, now)
        async with http.post(self._url, data=form) as answer:
            if answer.status in (400, 401, 403):
                raise AuthError(f"token endpoint refused {form['grant_type']}: {answer.status}")
            if answer.status == 429 or answer.status >= 500:
                raise RetryableError(answer.status, retry_after(answer.headers))
            answer.raise_for_status()
            body = await answer.json()
        previous = form.get("refresh_token", "")
        self._tokens = from_answer(body, now, previous)
        self.refreshes += 1


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The Retry-After header in seconds (the vendor sends seconds; a date is ignored)."""
    raw = headers.get("Retry-After")
    try:
        return None if raw is None else max(0.0, float(raw))
    except ValueError:
        return None
