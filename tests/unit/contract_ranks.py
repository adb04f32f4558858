"""The contract's tiebreak ranks, read from the table in docs/projections.md.

Read from the page rather than imported from the code or restated here, so the tests check
the code and the generator against the page, not against each other or a stale copy.
"""

from __future__ import annotations

import re
from pathlib import Path

PROJECTIONS_DOC = Path(__file__).resolve().parents[2] / "docs" / "projections.md"
OTHER_RANK = 50
"""The rank the page gives "any other type"."""

_ROW = re.compile(r"^\|\s*(\d+)\s*\|(.*)\|(.*)\|\s*$")
_TYPE = re.compile(r"`([a-z-]+:[a-z_-]+)`")


def _ranks() -> tuple[dict[str, int], dict[str, int]]:
    text = PROJECTIONS_DOC.read_text()
    section = text.split("## Event order and identity", 1)[1].split("\n## ", 1)[0]
    agent: dict[str, int] = {}
    task: dict[str, int] = {}
    for line in section.splitlines():
        row = _ROW.match(line)
        if row is None:
            continue
        rank = int(row.group(1))
        if "any other type" in line:
            assert rank == OTHER_RANK, line
            continue
        for stream, cell in ((agent, row.group(2)), (task, row.group(3))):
            for event_type in _TYPE.findall(cell):
                assert event_type not in stream, f"{event_type} ranked twice: {line}"
                stream[event_type] = rank
    assert agent, f"no rank table found in {PROJECTIONS_DOC}"
    assert task, f"no task ranks in the table of {PROJECTIONS_DOC}"
    return agent, task


AGENT_RANK, TASK_RANK = _ranks()

# The agent events that report a state and, with a taskId, a leg on that task.
STATE_CHANGES = frozenset({"agent:state_change", "agent:channel_state_change"})
