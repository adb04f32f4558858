"""The contract's tiebreak ranks (docs/projections.md), restated for the tests.

Written out here rather than imported from `processors.ordering` or the generator, so the
tests check both against the page, not against each other.
"""

AGENT_RANK = {
    "agent:login": 0,
    "agent:state_change": 1,
    "agent:channel_state_change": 1,
    "agent:logout": 2,
}
TASK_RANK = {
    name: rank
    for rank, name in enumerate(
        (
            "task:new",
            "task:parked",
            "task:connect",
            "task:connected",
            "task:on-hold",
            "task:hold-done",
            "task:consulting",
            "task:consult-done",
            "task:conferencing",
            "task:conference-done",
            "agent:state_change",
            "task:ended",
            "capture:available",
        )
    )
}
