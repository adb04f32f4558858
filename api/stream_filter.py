"""Which changes a stream sends: by kind, team (agents) and queue (tasks), within scope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wxcc_stream.api.auth import Scope
from wxcc_stream.api.entries import AgentEntry, Entry, Kind
from wxcc_stream.api.errors import BadQuery
from wxcc_stream.api.queries import parse_ids

PARAMETERS = ("kind", "team", "queue", "lastEventId")


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """`team` restricts agent changes, `queue` task changes; None lets all of that kind."""

    scope: Scope
    kinds: frozenset[Kind]
    teams: frozenset[str] | None = None
    queues: frozenset[str] | None = None

    def matches(self, entry: Entry) -> bool:
        if isinstance(entry, AgentEntry):
            return (
                Kind.AGENT in self.kinds
                and (self.teams is None or entry.team_id in self.teams)
                and self.scope.allows(entry)
            )
        return (
            Kind.TASK in self.kinds
            and (self.queues is None or entry.queue_id in self.queues)
            and self.scope.allows(entry)
        )


def parse_stream_filter(params: Mapping[str, str], scope: Scope) -> StreamFilter:
    """The filter of `GET /stream`; BadQuery naming a bad parameter."""
    for name in params:
        if name not in PARAMETERS:
            raise BadQuery(name, f"unknown parameter; known: {', '.join(PARAMETERS)}")
    kinds = frozenset(Kind)
    text = params.get("kind")
    if text is not None:
        try:
            kinds = frozenset(Kind(v.strip()) for v in text.split(",") if v.strip())
        except ValueError:
            raise BadQuery("kind", f"expected agent and/or task, got {text!r}") from None
        if not kinds:
            raise BadQuery("kind", "give agent, task or both")
    return StreamFilter(scope, kinds, parse_ids(params, "team"), parse_ids(params, "queue"))
