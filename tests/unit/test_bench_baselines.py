"""The benchmark's checks-only baseline really runs the ingress's checks: it accepts a
signed event and refuses a tampered one (else its figure would flatter the split between
the checks and Kafka's client)."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bench.ingress.bare import checking
from bench.ingress.run import PATH, SECRET, SUB, bodies
from wxcc_stream.schemas.signing import sign


async def test_checks_baseline_accepts_signed_events_and_refuses_tampered_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WXCC_INGRESS_SECRETS", f"{SUB}={SECRET}")
    app = web.Application()
    app.router.add_post(PATH, checking())
    (body,) = bodies(1)
    async with TestClient(TestServer(app)) as client:
        statuses = []
        for signature in (sign(body, SECRET), sign(body + b" ", SECRET)):
            headers = {"Content-Type": "application/json", "X-WebexCC-Signature": signature}
            response = await client.post(PATH, data=body, headers=headers)
            statuses.append(response.status)
    assert statuses == [202, 400]
