"""The authoritative task summary (`task:reconciled`): final facts read from the WxCC
APIs once a task's record is final, which override what lost webhooks left wrong.

The summary does not take part in the step-by-step fold: it only records its facts, and
the document shows them in place of the folded values. So the result depends neither on
where the summary falls in the order nor on the events folded after it, and a duplicate
changes nothing (docs/projections.md, "The authoritative task summary").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wxcc_stream.schemas.event import Event

RECONCILED_TYPE = "task:reconciled"

FINAL_FIELDS = (
    "status",
    "endedTime",
    "queueId",
    "holdCount",
    "holdMs",
    "consultCount",
    "conferenceCount",
    "ringMs",
    "talkMs",
    "wrapUpMs",
    "terminatingParty",
    "captures",
)
"""Document fields a summary may fix, each taken from its data when present. `captures`
(the recordings the captures API lists) is added to the folded ones, not put in their
place: a recording the API does not list yet takes nothing away."""

Final = tuple[tuple[str, Any], ...]


def summary_facts(event: Event) -> Final:
    """The final facts a summary carries; none for any other event, and none unless it
    is wxcc-stream's own (marked reconciled: the ingress refuses that marker on webhooks)."""
    if event.type != RECONCILED_TYPE or not event.reconciled:
        return ()
    facts = tuple((k, event.data[k]) for k in FINAL_FIELDS if k in event.data)
    return tuple((k, v) for k, v in facts if k != "captures" or _paths(v))


def _paths(value: Any) -> bool:
    """A list of recording paths (anything else is left out of the facts)."""
    return isinstance(value, list) and all(isinstance(p, str) for p in value)


def merged(held: Final, facts: Final) -> Final:
    """Facts held so far, updated by a newer summary's (sorted by field)."""
    return tuple(sorted({**dict(held), **dict(facts)}.items()))


def with_final(document: dict[str, Any], final: Final | Mapping[str, Any]) -> dict[str, Any]:
    """The document with the summary's facts in place of the folded values (its
    recordings added to the folded ones)."""
    facts = dict(final)
    if "captures" in facts:
        facts["captures"] = sorted({*document.get("captures", ()), *facts["captures"]})
    document.update(facts)
    return document
