"""The late-event policy is passed in (`Policy.on_late`): refold (the default) or set aside."""

from __future__ import annotations

import pytest

from tests.unit.test_entity import AVAILABLE, CONNECTED, LOGIN, RINGING, WRAPUP, agent_log, feed
from wxcc_stream.base.settings import SettingsError, load_settings
from wxcc_stream.processors.core.log import projection
from wxcc_stream.processors.core.outcome import BeyondReason
from wxcc_stream.processors.core.policy import OnLate, Policy
from wxcc_stream.processors.core.step import accept
from wxcc_stream.processors.shell.context import ShellContext


def _policy(on_late: OnLate) -> Policy:
    return Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=10_000, on_late=on_late)


def test_refold_is_the_default() -> None:
    assert Policy().on_late is OnLate.REFOLD


def test_a_set_aside_late_event_is_reported_and_folds_nothing() -> None:
    policy = _policy(OnLate.SET_ASIDE)
    log, _ = feed(agent_log(), [LOGIN, RINGING, CONNECTED, WRAPUP], policy=policy)
    before = projection(log)
    after_log, out = accept(log, AVAILABLE, now_ms=0, policy=policy)
    assert out.late == ()
    assert not out.changed
    (aside,) = out.beyond_horizon
    assert aside.reason is BeyondReason.SET_ASIDE
    assert aside.event == AVAILABLE
    assert aside.floor == WRAPUP.created_time  # the newest released event
    assert "set aside" in aside.describe()
    assert projection(after_log) == before
    assert after_log.history == log.history


@pytest.mark.parametrize("on_late", list(OnLate))
def test_in_order_events_are_folded_alike_under_either_policy(on_late: OnLate) -> None:
    log, out = feed(agent_log(), [LOGIN, AVAILABLE, RINGING], policy=_policy(on_late))
    assert out.late == ()
    assert out.beyond_horizon == ()
    assert projection(log)["revision"] == 3


@pytest.mark.parametrize(
    ("text", "on_late"), [("refold", OnLate.REFOLD), ("set-aside", OnLate.SET_ASIDE)]
)
def test_the_worker_takes_the_policy_from_its_settings(text: str, on_late: OnLate) -> None:
    settings = load_settings({"WXCC_WORKER_ON_LATE": text})
    assert ShellContext.create(settings).policy.on_late is on_late


def test_an_unknown_late_policy_is_refused() -> None:
    with pytest.raises(SettingsError, match="WXCC_WORKER_ON_LATE"):
        load_settings({"WXCC_WORKER_ON_LATE": "drop"})
