"""The authoritative agent summary (`agent:reconciled`): an agent's session as the WxCC
APIs show it at the newest activity it sums up, which resets what lost webhooks left wrong.

Unlike the task summary it takes part in the fold: at its place in the order it sets the
session's fields to the API's values (as a login resets them), and the events after it
fold on top as usual. So the result depends neither on arrival order nor on duplicates,
and lost agent events before it, however old, no longer matter (docs/projections.md,
"The authoritative agent summary")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wxcc_stream.schemas.event import Event

AGENT_RECONCILED_TYPE = "agent:reconciled"

AGENT_FACTS = {
    "loggedIn": "logged_in",
    "state": "state",
    "stateSince": "state_since",
    "sessionStart": "session_start",
    "timeInState": "time_in_state",
    "taskIds": "task_ids",
    "idleCodeId": "idle_code_id",
    "destination": "destination",
    "profileType": "profile_type",
    "teamId": "team_id",
}
"""Document field -> state field a summary sets when its data has the key."""


def _valid(key: str, value: Any) -> Any:
    """The state's form of a summary value; raises ValueError for a value of the wrong kind."""
    if key == "timeInState":
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and type(v) is int for k, v in value.items()
        ):
            raise ValueError(key)
        return tuple(sorted(value.items()))
    if key == "taskIds":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(key)
        return tuple(sorted(set(value)))
    if key == "loggedIn" and type(value) is not bool:
        raise ValueError(key)
    if key == "state" and not isinstance(value, str):
        raise ValueError(key)
    if key in ("stateSince", "sessionStart") and value is not None and type(value) is not int:
        raise ValueError(key)
    return value


def agent_summary_changes(event: Event) -> dict[str, Any] | None:
    """The state changes an agent summary makes; None for any other event, for one without
    wxcc-stream's reconciled marker, or one whose facts are malformed (it then folds as an
    unknown type would: counted, nothing changed)."""
    if event.type != AGENT_RECONCILED_TYPE or not event.reconciled:
        return None
    data = event.data
    try:
        return {name: _valid(key, data[key]) for key, name in AGENT_FACTS.items() if key in data}
    except ValueError:
        return None
