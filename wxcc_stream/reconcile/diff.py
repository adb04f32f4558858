"""Where the APIs and the folded projections disagree, entity by entity and field by field.
Pure.

Only final facts are compared: a task record once the task is over (not active, with an
end), and an agent's login state once its projection has seen nothing newer than the
API's last row of the agent. The API wins on these facts (issue 13).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wxcc_stream.reconcile.events import LOGOUT_STATES, epoch_ms, unsigned

Doc = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One field of one entity where the API and the projection differ (`missing`: the
    projection has no document for the entity at all)."""

    kind: str  # "task" or "agent"
    entity_id: str
    field: str
    api: Any
    projection: Any

    def line(self) -> str:
        """As `--dry-run` prints it."""
        if self.field == "missing":
            return f"{self.kind} {self.entity_id}: missing from the projection"
        return (
            f"{self.kind} {self.entity_id}: {self.field} is {self.projection!r}, "
            f"the API says {self.api!r}"
        )


def _final_task_facts(
    record: Mapping[str, Any], recordings: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    party = record.get("terminatingEnd")
    return {
        "status": "ended",
        "endedTime": epoch_ms(record.get("endedTime")),
        "holdCount": record.get("holdCount"),
        "consultCount": record.get("consultCount"),
        "conferenceCount": record.get("conferenceCount"),
        "queueId": (record.get("lastQueue") or {}).get("id"),
        "terminatingParty": str(party).capitalize() if party else None,
        "reason": record.get("terminationReason"),
        "captures": sorted(
            {
                unsigned(str(r["attributes"]["filePath"]))
                for r in recordings
                if (r.get("attributes") or {}).get("filePath")
            }
        ),
    }


def task_disagreements(
    records: Iterable[Mapping[str, Any]],
    recordings: Mapping[str, Iterable[Mapping[str, Any]]],
    docs: Mapping[str, Doc],
) -> list[Disagreement]:
    """Per task record: missing, or each final fact the projection has otherwise."""
    found = []
    for record in records:
        task_id = str(record.get("id") or "")
        if not task_id:
            continue
        doc = docs.get(task_id)
        if doc is None:
            found.append(Disagreement("task", task_id, "missing", task_id, None))
            continue
        final = record.get("isActive") is not True and epoch_ms(record.get("endedTime"))
        if not final:
            continue
        for name, want in _final_task_facts(record, recordings.get(task_id, ())).items():
            have = doc.get(name)
            if want is None:
                continue
            if name == "captures":
                if set(want) - set(have or ()):
                    found.append(Disagreement("task", task_id, name, want, have))
            elif have != want:
                found.append(Disagreement("task", task_id, name, want, have))
    return found


def agent_disagreements(
    rows: Iterable[Mapping[str, Any]], docs: Mapping[str, Doc]
) -> list[Disagreement]:
    """Per agent of the rows: missing, or logged in/out otherwise than its last row says."""
    last: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        agent, start = row.get("agentId"), epoch_ms(row.get("startTime"))
        if not agent or start is None:
            continue
        held = last.get(str(agent))
        if held is None or (epoch_ms(held.get("startTime")) or 0) <= start:
            last[str(agent)] = row
    found = []
    for agent, row in sorted(last.items()):
        doc = docs.get(agent)
        if doc is None:
            found.append(Disagreement("agent", agent, "missing", agent, None))
            continue
        start = epoch_ms(row.get("startTime")) or 0
        if (doc.get("lastEventTime") or 0) > start:
            continue  # the projection knows of something newer than this range
        logged_in = str(row.get("currentState") or "").lower() not in LOGOUT_STATES
        if doc.get("loggedIn") != logged_in:
            found.append(Disagreement("agent", agent, "loggedIn", logged_in, doc.get("loggedIn")))
    return found
