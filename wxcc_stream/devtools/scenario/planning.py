"""What the day holds before it starts: agents' shifts and the tasks' arrivals and kinds."""

from __future__ import annotations

import random
from dataclasses import dataclass

from wxcc_stream.devtools.scenario.config import ScenarioConfig
from wxcc_stream.devtools.scenario.directory import (
    CHAT_TEMPLATES,
    EMAIL_ADDRESSES,
    SOCIAL_PAGES,
    Directory,
    new_uuid,
    phone_number,
)
from wxcc_stream.devtools.scenario.model import CHAT, TELEPHONY, Task

OUTBOUND_TYPES = ("CALLBACK", "CAMPAIGN", "AUTODIAL")
_OUTBOUND_WEIGHTS = (0.4, 0.4, 0.2)


@dataclass(frozen=True, slots=True)
class Shift:
    """When an agent logs in, when its shift ends, and when it will log out and in again."""

    login_at: int
    end: int
    relogin_at: int | None


def plan_shifts(config: ScenarioConfig, rng: random.Random) -> list[Shift]:
    """One shift per agent: in within the first 5% of the window, out in the last 2%.

    Tasks arrive between 2% and 95% of the window, so every task arrives while some
    agent is on shift.
    """
    start, duration = config.start_ms, config.duration_ms
    shifts = []
    for _ in range(config.agents):
        login_at = start + rng.randint(0, duration // 20)
        end = start + duration - rng.randint(0, duration // 50)
        relogin_at = None
        if rng.random() < config.relogin_probability:
            relogin_at = rng.randint(login_at + duration // 5, start + duration * 7 // 10)
        shifts.append(Shift(login_at, end, relogin_at))
    return shifts


def plan_tasks(
    config: ScenarioConfig, directory: Directory, rng: random.Random, names: random.Random
) -> list[tuple[int, Task]]:
    """(arrival time, task) for every task, by arrival; `names` draws ids and addresses."""
    start, duration, timings = config.start_ms, config.duration_ms, config.timings
    low, high = start + duration // 50, start + duration * 95 // 100
    arrivals = sorted(rng.randint(low, high) for _ in range(config.task_count()))
    channels, weights = zip(*config.channels.weights(), strict=True)
    patience = {
        TELEPHONY: timings.patience_telephony,
        CHAT: timings.patience_chat,
        "email": timings.patience_email,
        "social": timings.patience_social,
    }
    planned = []
    for arrival in arrivals:
        channel = rng.choices(channels, weights)[0]
        outbound_type = None
        if channel == TELEPHONY and rng.random() < config.outbound_fraction:
            outbound_type = rng.choices(OUTBOUND_TYPES, _OUTBOUND_WEIGHTS)[0]
        if channel == TELEPHONY:
            origin, destination = phone_number(names), rng.choice(directory.entry_points)
        elif channel == CHAT:
            origin, destination = _email(names), rng.choice(CHAT_TEMPLATES)
        elif channel == "email":
            origin, destination = _email(names), rng.choice(EMAIL_ADDRESSES)
        else:
            origin = f"psid-{names.randrange(10**15, 10**16)}"
            destination = rng.choice(SOCIAL_PAGES)
        task = Task(
            id=new_uuid(names),
            channel=channel,
            direction="INBOUND" if outbound_type is None else "OUTBOUND",
            outbound_type=outbound_type,
            origin=origin,
            destination=destination,
            queue_id=rng.choice(directory.queues).id,
            # An autodialled call goes straight to an agent, without queueing.
            parks=outbound_type != "AUTODIAL",
            patience=timings.patience_outbound if outbound_type else patience[channel],
        )
        planned.append((arrival, task))
    return planned


def _email(rng: random.Random) -> str:
    return f"customer{rng.randrange(10_000, 99_999)}@example.net"
