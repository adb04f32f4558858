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
    "task:new": 0,
    "task:parked": 1,
    "task:connect": 2,
    "task:connected": 3,
    "task:on-hold": 4,
    "task:hold-done": 5,
    "task:consulting": 6,
    "task:consult-done": 7,
    "task:conferencing": 8,
    "task:conference-done": 9,
    "agent:state_change": 10,
    "agent:channel_state_change": 10,
    "task:ended": 11,
    "capture:available": 12,
}

# The agent events that report a state and, with a taskId, a leg on that task.
STATE_CHANGES = frozenset({"agent:state_change", "agent:channel_state_change"})
