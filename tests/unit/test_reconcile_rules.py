"""The reconciliation client's pure rules: windows under 24 h, halving, token upkeep."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wxcc_stream.reconcile.client import backoff
from wxcc_stream.reconcile.errors import ApiError, RetryableError
from wxcc_stream.reconcile.oauth import Credentials, Tokens, from_answer, grant_form, needs_refresh
from wxcc_stream.reconcile.windows import DAY_MS, MAX_WINDOW_MS, Window, halve, split


@given(st.integers(0, 10**13), st.integers(1, 5 * DAY_MS))
def test_split_covers_the_range_in_windows_under_a_day(start: int, length: int) -> None:
    windows = split(start, start + length)
    assert windows[0].start == start
    assert windows[-1].end == start + length
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert all(0 < w.length <= MAX_WINDOW_MS < DAY_MS for w in windows)


@given(st.integers(0, 10**13), st.integers(2, DAY_MS))
def test_halves_meet_and_cover_the_window(start: int, length: int) -> None:
    first, second = halve(Window(start, start + length))
    assert (first.start, first.end, second.end) == (start, second.start, start + length)
    assert first.length > 0
    assert second.length > 0


def test_a_one_ms_window_cannot_be_halved() -> None:
    with pytest.raises(ValueError, match="cannot split"):
        halve(Window(5, 6))


def test_empty_range_has_no_windows() -> None:
    assert split(10, 10) == []


ANSWER = {"access_token": "a2", "expires_in": 100, "refresh_token": "r2",
          "refresh_token_expires_in": 1000}  # fmt: skip


def test_tokens_take_their_lifetimes_from_the_answer() -> None:
    tokens = from_answer(ANSWER, now=50.0, previous_refresh="r1")
    assert tokens == Tokens("a2", 150.0, "r2", 1050.0)
    kept = from_answer({"access_token": "a3", "expires_in": 10}, now=0.0, previous_refresh="r2")
    assert kept.refresh == "r2"  # no new refresh token in the answer: keep the one we had


@pytest.mark.parametrize(
    ("now", "expected"), [(0.0, False), (139.0, False), (140.0, True), (200.0, True)]
)
def test_refresh_comes_a_margin_before_expiry(now: float, expected: bool) -> None:
    tokens = from_answer(ANSWER, now=50.0, previous_refresh="")
    assert needs_refresh(tokens, now, margin_s=10.0) is expected
    assert needs_refresh(None, now, margin_s=10.0) is True


def test_the_grant_uses_the_newest_live_refresh_token() -> None:
    credentials = Credentials("id", "secret", refresh_token="r0")
    assert grant_form(credentials, None, 0.0)["refresh_token"] == "r0"
    tokens = from_answer(ANSWER, now=0.0, previous_refresh="r0")
    assert grant_form(credentials, tokens, 10.0)["refresh_token"] == "r2"
    assert grant_form(credentials, tokens, 2000.0)["grant_type"] == "client_credentials"
    assert grant_form(Credentials("id", "s"), None, 0.0)["grant_type"] == "client_credentials"


def test_credentials_never_print_their_secrets() -> None:
    shown = repr(Credentials("id", "top-secret", "refresh-secret"))
    assert "secret" not in shown.replace("client_id", "")


@pytest.mark.parametrize(
    ("error", "decision"),
    [
        (RetryableError(429, 7.0), 7.0),
        (RetryableError(503), True),
        (RetryableError(401), True),
        (ApiError(400, "bad"), False),
        (ValueError("x"), False),
    ],
)
def test_backoff_honours_retry_after_and_retries_only_transient_errors(
    error: Exception, decision: bool | float
) -> None:
    assert backoff(error) == decision
