"""The simulator's OAuth token endpoint: client credentials and rotating refresh tokens.

Lifetimes are short and configurable so that tests see tokens expire mid-run. A refresh
token is single-use (each refresh answers a new one and retires the old), so a client
that does not keep the newest one fails: what the issue asks the client to get right.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wxcc_stream.devtools.wxcc_api.errors import ApiSimulatorError, BadRequest

DEFAULT_CLIENT_ID = "wxcc-stream-sim"
DEFAULT_CLIENT_SECRET = "wxcc-stream-sim-secret"


class Unauthorized(ApiSimulatorError):
    """Wrong client, unknown or expired token: the API answers 401."""


@dataclass(frozen=True, slots=True)
class TokenSettings:
    """Who may ask for tokens, and how long they last (seconds)."""

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    access_lifetime_s: float = 3_600.0
    refresh_lifetime_s: float = 86_400.0


class TokenBook:
    """Issued tokens and their expiry times on an injected clock (seconds)."""

    def __init__(self, settings: TokenSettings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self._clock = clock
        self._access: dict[str, float] = {}
        self._refresh: dict[str, float] = {}

    def grant(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Answer a token request (form fields of RFC 6749), or raise."""
        s = self.settings
        if form.get("client_id") != s.client_id or form.get("client_secret") != s.client_secret:
            raise Unauthorized("invalid client")
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            token = form.get("refresh_token", "")
            if self._refresh.pop(token, 0.0) <= self._clock():
                raise Unauthorized("invalid or expired refresh token")
        elif grant_type != "client_credentials":
            raise BadRequest(f"unsupported grant_type {grant_type!r}")
        return self._issue()

    def check(self, authorization: str | None) -> str:
        """The access token of an `Authorization: Bearer ...` header, if it is valid."""
        token = (authorization or "").removeprefix("Bearer ").strip()
        if self._access.get(token, 0.0) <= self._clock():
            raise Unauthorized("invalid or expired access token")
        return token

    def expire(self, token: str) -> None:
        """Make an access token stop working now (fault injection)."""
        self._access.pop(token, None)

    def _issue(self) -> dict[str, Any]:
        s, now = self.settings, self._clock()
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        self._access[access] = now + s.access_lifetime_s
        self._refresh[refresh] = now + s.refresh_lifetime_s
        return {
            "access_token": access,
            "expires_in": int(s.access_lifetime_s),
            "refresh_token": refresh,
            "refresh_token_expires_in": int(s.refresh_lifetime_s),
            "token_type": "Bearer",
        }
