"""The contact center's static configuration: teams, queues, agents, idle and wrap-up codes.

Drawn from its own random stream (seed and sizes only), so changing a behaviour
probability does not rename anybody.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

CHANNELS = ("telephony", "chat", "email", "social")
PROFILE_TYPES = ("BLENDED", "BLENDED_REALTIME", "EXCLUSIVE")
_PROFILE_WEIGHTS = (0.6, 0.2, 0.2)
_WXCC_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

_TEAM_NAMES = ("Support", "Billing", "Sales", "Retention", "Technical", "Onboarding")
_QUEUE_NAMES = ("General", "Priority", "Callbacks", "Spanish", "VIP", "Returns", "Outage")
_FIRST = ("Ana", "Ben", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jin", "Kai", "Lea")
_LAST = ("Silva", "Novak", "Okafor", "Larsen", "Ito", "Moreau", "Quinn", "Rossi", "Weber")
IDLE_CODE_NAMES = ("Not Ready", "Break", "Lunch", "Meeting", "Training", "RONA", "End of Shift")
WRAPUP_CODE_NAMES = (
    "Resolved",
    "Follow-up required",
    "Escalated",
    "Sale",
    "Wrong number",
    "Information given",
)
CHAT_TEMPLATES = ("Website Chat", "Mobile App Chat")
EMAIL_ADDRESSES = ("support@acme.example", "billing@acme.example")
SOCIAL_PAGES = ("Facebook Messenger", "WhatsApp")


@dataclass(frozen=True, slots=True)
class Code:
    """An idle code or a wrap-up code."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Team:
    """A team of agents."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Queue:
    """A queue, served by the agents of `team_ids`."""

    id: str
    name: str
    team_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """An agent: who it is, its phone, its multimedia profile and its channel ids."""

    id: str
    name: str
    team_id: str
    destination: str
    profile_type: str
    channel_ids: tuple[tuple[str, str], ...]  # (channelType, channel id)

    def channel_id(self, channel: str) -> str:
        """The id of this agent's channel of one type (reported in connectedChannels)."""
        return dict(self.channel_ids)[channel]


@dataclass(frozen=True, slots=True)
class Directory:
    """The static configuration a scenario runs on."""

    teams: tuple[Team, ...]
    queues: tuple[Queue, ...]
    agents: tuple[AgentProfile, ...]
    idle_codes: tuple[Code, ...]
    wrapup_codes: tuple[Code, ...]
    entry_points: tuple[str, ...]  # telephony numbers customers dial

    def idle_code(self, name: str) -> Code:
        """The idle code with this name."""
        return next(code for code in self.idle_codes if code.name == name)


def new_uuid(rng: random.Random) -> str:
    """A version-4-shaped UUID string drawn from `rng` (as `uuid.UUID(int=..., version=4)`)."""
    bits = rng.getrandbits(128)
    # Variant 10xx and version 4, exactly as uuid.UUID sets them; formatted by hand (hot path).
    bits = (bits & ~(0xC000 << 48) | 0x8000 << 48) & ~(0xF000 << 64) | 4 << 76
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def wxcc_id(rng: random.Random) -> str:
    """A 20-character id shaped like WxCC's queue and subscription ids."""
    return "AX" + "".join(rng.choice(_WXCC_ID_ALPHABET) for _ in range(18))


def phone_number(rng: random.Random) -> str:
    """A fictional North American number (555 exchange)."""
    return f"+1{rng.randint(200, 989)}555{rng.randint(0, 9999):04d}"


def build_directory(seed: int, agents: int, teams: int, queues: int) -> Directory:
    """Teams, queues, agents and codes for a seed and sizes."""
    rng = random.Random(f"wxcc-directory:{seed}")
    team_list = tuple(
        Team(new_uuid(rng), f"{_TEAM_NAMES[i % len(_TEAM_NAMES)]} {i // len(_TEAM_NAMES) + 1}")
        for i in range(teams)
    )
    queue_list = []
    for i in range(queues):
        served = {team_list[i % teams].id: None, team_list[(i + 1) % teams].id: None}
        name = f"{_QUEUE_NAMES[i % len(_QUEUE_NAMES)]} {i // len(_QUEUE_NAMES) + 1}"
        queue_list.append(Queue(wxcc_id(rng), name, tuple(served)))
    agent_list = []
    for i in range(agents):
        name = f"{_FIRST[i % len(_FIRST)]} {_LAST[(i * 7 + i // len(_FIRST)) % len(_LAST)]}"
        profile = rng.choices(PROFILE_TYPES, _PROFILE_WEIGHTS)[0]
        channel_ids = tuple((channel, new_uuid(rng)) for channel in CHANNELS)
        agent_list.append(
            AgentProfile(
                id=new_uuid(rng),
                name=name,
                team_id=team_list[i % teams].id,
                destination=f"{rng.randint(2_000_000_000, 9_899_999_999)}",
                profile_type=profile,
                channel_ids=channel_ids,
            )
        )
    code_ids = rng.sample(range(1000, 9999), len(IDLE_CODE_NAMES) + len(WRAPUP_CODE_NAMES))
    idle = tuple(Code(str(code_ids[i]), n) for i, n in enumerate(IDLE_CODE_NAMES))
    offset = len(IDLE_CODE_NAMES)
    wrapup = tuple(Code(str(code_ids[offset + i]), n) for i, n in enumerate(WRAPUP_CODE_NAMES))
    entry_points = tuple(f"+1800555{rng.randint(0, 9999):04d}" for _ in range(3))
    return Directory(team_list, tuple(queue_list), tuple(agent_list), idle, wrapup, entry_points)
