"""Who may read what: bearer tokens from settings, each with a scope of teams and queues.

`WXCC_API_TOKENS` is `token=*` (everything) or `token=team:ID|queue:ID|...`, several
separated by commas. A scoped token sees the agents of its teams and the tasks of its
queues, and nothing else. Pure: the decisions only, no HTTP.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from wxcc_stream.api.entries import AgentEntry, Entry
from wxcc_stream.base.settings import SettingsError


@dataclass(frozen=True, slots=True)
class Scope:
    """What one token may read."""

    everything: bool = False
    teams: frozenset[str] = frozenset()
    queues: frozenset[str] = frozenset()

    def allows_team(self, team_id: str | None) -> bool:
        return self.everything or team_id in self.teams

    def allows_queue(self, queue_id: str | None) -> bool:
        return self.everything or queue_id in self.queues

    def allows(self, entry: Entry) -> bool:
        """May this token read the entry's document?"""
        if isinstance(entry, AgentEntry):
            return self.allows_team(entry.team_id)
        return self.allows_queue(entry.queue_id)

    def outside(self, teams: Iterable[str] = (), queues: Iterable[str] = ()) -> list[str]:
        """The named teams and queues this token may not read (`team:ID`, `queue:ID`)."""
        return [f"team:{t}" for t in teams if not self.allows_team(t)] + [
            f"queue:{q}" for q in queues if not self.allows_queue(q)
        ]


EVERYTHING = Scope(everything=True)


def parse_tokens(spec: str) -> dict[str, Scope]:
    """The tokens of `WXCC_API_TOKENS`; SettingsError naming what is wrong (never the token)."""
    tokens: dict[str, Scope] = {}
    for number, item in enumerate(filter(None, (p.strip() for p in spec.split(","))), 1):
        token, sep, scope_text = item.partition("=")
        token = token.strip()
        if not sep or not token:
            raise SettingsError(f"WXCC_API_TOKENS: entry {number} is not token=scope")
        if len(token) < 16:
            raise SettingsError(f"WXCC_API_TOKENS: the token of entry {number} is too short (<16)")
        tokens[token] = _scope(scope_text.strip(), number)
    return tokens


def _scope(text: str, number: int) -> Scope:
    if text == "*":
        return EVERYTHING
    teams, queues = set(), set()
    for part in filter(None, text.split("|")):
        what, _, ident = part.partition(":")
        if what == "team" and ident:
            teams.add(ident)
        elif what == "queue" and ident:
            queues.add(ident)
        else:
            raise SettingsError(
                f"WXCC_API_TOKENS: entry {number}: scope part {part!r} is not team:ID or queue:ID"
            )
    if not teams and not queues:
        raise SettingsError(f"WXCC_API_TOKENS: entry {number} has an empty scope")
    return Scope(teams=frozenset(teams), queues=frozenset(queues))


def authenticate(authorization: str | None, tokens: Mapping[str, Scope]) -> Scope | None:
    """The scope of the bearer token in an Authorization header; None when missing or
    unknown. Every known token is compared in constant time."""
    if not authorization:
        return None
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    given = presented.strip().encode()
    found: Scope | None = None
    for token, scope in tokens.items():
        if hmac.compare_digest(given, token.encode()):
            found = scope
    return found
