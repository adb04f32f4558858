"""The simulator's pure parts: target check, options, request preparation, progress."""

from __future__ import annotations

import io

import orjson
import pytest
from multidict import CIMultiDict

from wxcc_stream.devtools.scenario import ScenarioConfig, generate
from wxcc_stream.devtools.simulator import (
    Progress,
    SigningKeys,
    SimulatorError,
    check_target,
    prepare,
)
from wxcc_stream.devtools.simulator.options import (
    parse_duration_ms,
    parse_fraction,
    parse_start_ms,
)
from wxcc_stream.ingress.admission import Accepted, admit
from wxcc_stream.ingress.policy import AdmissionPolicy
from wxcc_stream.schemas.signing import parse_secrets


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/webhooks/wxcc",
        "http://localhost/x",
        "https://127.8.9.10/",
        "http://[::1]:9/x",
    ],
)
def test_loopback_targets_are_allowed(url: str) -> None:
    assert check_target(url) == url


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1/x", "http://example.com/", "http://0.0.0.0:80/", "http://[::2]/"]
)
def test_remote_targets_need_allow_remote(url: str) -> None:
    with pytest.raises(SimulatorError, match="--allow-remote"):
        check_target(url)
    assert check_target(url, allow_remote=True) == url


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:8080", "http:///x"])
def test_targets_must_be_http_urls(url: str) -> None:
    with pytest.raises(SimulatorError):
        check_target(url, allow_remote=True)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("500ms", 500),
        ("90s", 90_000),
        ("30m", 1_800_000),
        ("8h", 28_800_000),
        ("1.5h", 5_400_000),
        ("2", 2000),
        ("1d", 86_400_000),
    ],
)
def test_parse_duration(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "soon", "-5s", "5 weeks"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(SimulatorError):
        parse_duration_ms(text)


def test_parse_fraction() -> None:
    assert parse_fraction("0.05", "x") == 0.05
    assert parse_fraction("5%", "x") == 0.05
    for bad in ("1.5", "-0.1", "lots"):
        with pytest.raises(SimulatorError):
            parse_fraction(bad, "--drop")


SECRET = b"sim-secret-0123456789abcdef0123456789"
NOW = 1_800_000_000_000


def test_every_generated_event_prepared_by_the_simulator_is_admitted_by_the_ingress() -> None:
    scenario = generate(
        ScenarioConfig(seed=3, agents=3, duration_ms=30 * 60_000, channel_state_fraction=0.3)
    )
    sub = scenario.config.subscription_id
    keys = SigningKeys(by_subscription={sub: SECRET})
    policy = AdmissionPolicy(secrets=parse_secrets(f"{sub}={SECRET.decode()}"))
    v2 = 0
    for event in scenario.events:
        request = prepare(event, keys, now_ms=NOW)
        decision = admit(request.body, CIMultiDict(request.headers), policy, now_ms=NOW + 50)
        assert isinstance(decision, Accepted), (event, decision)
        if "comciscotimestamp" in event:
            v2 += 1
            sent = orjson.loads(request.body)
            assert str(sent["comciscotimestamp"]) == request.headers["X-WebExCC-Timestamp"]
            assert str(NOW) == request.headers["X-WebExCC-Timestamp"]
            assert sent["data"] == event["data"]  # only the delivery stamp changes
    assert v2 > 0


def test_keep_timestamps_and_unsigned_requests() -> None:
    event = {
        "id": "1",
        "source": "/com/cisco/wxcc/nobody",
        "type": "task:new",
        "comciscotimestamp": "123",
        "data": {},
    }
    request = prepare(event, SigningKeys(), now_ms=NOW, restamp=False)
    assert orjson.loads(request.body)["comciscotimestamp"] == "123"
    assert request.headers["X-WebExCC-Timestamp"] == "123"
    assert request.headers["X-WebexCC-Webhook-Version"] == "task:1.0.0"
    assert "X-WebexCC-Signature" not in request.headers
    fallback = prepare(event, SigningKeys(fallback=SECRET), now_ms=NOW)
    assert "X-WebexCC-Signature" in fallback.headers
    assert "sim-secret" not in repr(SigningKeys(fallback=SECRET))


def test_progress_bar_lines() -> None:
    stream = io.StringIO()
    progress = Progress(4, stream=stream, interval_s=0)
    progress.update(accepted=True)
    progress.update(accepted=False)
    progress.close()
    last = stream.getvalue().splitlines()[-1]
    assert "2/4" in last
    assert "50.0%" in last
    assert "accepted 1 rejected 1" in last
    quiet = io.StringIO()
    silent = Progress(1, stream=quiet, enabled=False)
    silent.update(accepted=True)
    silent.close()
    assert quiet.getvalue() == ""


NOW_MS = 1_800_000_000_000


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("now", NOW_MS),
        ("now-30m", NOW_MS - 1_800_000),
        ("2024-03-04T08:00:00Z", 1_709_539_200_000),
        ("2024-03-04T09:00:00+01:00", 1_709_539_200_000),
        ("1709539200000", 1_709_539_200_000),
    ],
)
def test_start_times(text: str, ms: int) -> None:
    assert parse_start_ms(text, now_ms=NOW_MS) == ms


@pytest.mark.parametrize("text", ["yesterday", "now-soon", "2024-03-04T08:00:00", "now+5m"])
def test_bad_start_times_say_what_to_write(text: str) -> None:
    with pytest.raises(SimulatorError, match=r"--start|duration"):
        parse_start_ms(text, now_ms=NOW_MS)
