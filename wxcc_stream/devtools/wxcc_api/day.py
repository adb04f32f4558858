"""A scenario's day as the reconciliation APIs serve it, at the API's clock.

Built once from the generator's own output (the same day whose webhooks `simulate`
sends); each request only selects and pages. Task records depend on the clock and are
kept for the last clock asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wxcc_stream.devtools.scenario import Scenario
from wxcc_stream.devtools.wxcc_api.activities import Activity, agent_activities
from wxcc_stream.devtools.wxcc_api.captures import Recording, recordings
from wxcc_stream.devtools.wxcc_api.paging import (
    MAX_WINDOW_RECORDS,
    ActivityQuery,
    activity_page,
    window_slice,
)
from wxcc_stream.devtools.wxcc_api.tasks import TaskHistory, task_histories, task_record


@dataclass(slots=True)
class ApiDay:
    """The API's records of one generated day."""

    scenario: Scenario
    activities: tuple[Activity, ...] = field(init=False)
    starts: list[int] = field(init=False)
    histories: tuple[TaskHistory, ...] = field(init=False)
    recordings: dict[str, tuple[Recording, ...]] = field(init=False)
    _records: tuple[int, list[dict[str, Any]]] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.activities = agent_activities(self.scenario)
        self.starts = [row.start for row in self.activities]
        self.histories = task_histories(self.scenario)
        self.recordings = recordings(self.scenario)

    @property
    def org_id(self) -> str:
        """The scenario's organisation."""
        return self.scenario.config.org_id

    @property
    def end_ms(self) -> int:
        """Just after the day's last event: a clock at which every record is final."""
        return max(int(e["data"]["createdTime"]) for e in self.scenario.events) + 1

    def activity_rows(
        self, query: ActivityQuery, now_ms: int, cap: int = MAX_WINDOW_RECORDS
    ) -> list[dict[str, Any]]:
        """One page of the window's activities known at `now_ms`."""
        first, last = window_slice(self.starts, query.start, min(query.end, now_ms + 1))
        rows = [
            row
            for row in self.activities[first:last]
            if (query.agent_ids is None or row.fields["agentId"] in query.agent_ids)
            and (query.team_ids is None or row.fields["teamId"] in query.team_ids)
        ]
        return [row.at(now_ms) for row in activity_page(rows, query, cap)]

    def task_records(self, now_ms: int) -> list[dict[str, Any]]:
        """Every task created by `now_ms`, as Search shows it then."""
        if self._records is None or self._records[0] != now_ms:
            records = [
                task_record(history, self.scenario.directory, now_ms)
                for history in self.histories
                if history.created <= now_ms
            ]
            self._records = (now_ms, records)
        return self._records[1]
