"""Generated events pass the project's own parser and JSON Schemas; truth fits its schemas."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from wxcc_stream.devtools.scenario import HOUR_MS, Scenario, ScenarioConfig, generate
from wxcc_stream.schemas.cloudevent import parse_event
from wxcc_stream.schemas.event import EntityKind
from wxcc_stream.schemas.files import cloudevent_schema, event_schema, projection_schema


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return generate(
        ScenarioConfig(
            seed=17,
            agents=8,
            duration_ms=3 * HOUR_MS,
            tasks=250,
            consult_probability=0.3,
            conference_probability=0.3,
            rona_probability=0.2,
        )
    )


def test_every_event_parses_with_its_entity_and_time(scenario: Scenario) -> None:
    for raw in scenario.events:
        event = parse_event(raw, received_at=0)
        data = raw["data"]
        if raw["type"].startswith("agent:"):
            assert (event.entity_kind, event.entity_id) == (EntityKind.AGENT, data["agentId"])
        else:
            assert (event.entity_kind, event.entity_id) == (EntityKind.TASK, data["taskId"])
        assert event.created_time == data["createdTime"]
        assert not event.time_inferred
        assert event.org_id == scenario.config.org_id
        assert event.ce_id == raw["id"]


def test_every_event_validates_against_the_json_schemas(scenario: Scenario) -> None:
    envelope = Draft202012Validator(cloudevent_schema())
    by_type: dict[str, Draft202012Validator] = {}
    for raw in scenario.events:
        validator = by_type.setdefault(raw["type"], Draft202012Validator(event_schema(raw["type"])))
        errors: list[Any] = [*envelope.iter_errors(raw), *validator.iter_errors(raw)]
        assert not errors, (raw["type"], [e.message for e in errors])


@pytest.mark.parametrize(
    ("name", "attribute"), [("agent-state", "agent_truth"), ("task-lifecycle", "task_truth")]
)
def test_truth_documents_fit_the_projection_schemas(
    scenario: Scenario, name: str, attribute: str
) -> None:
    validator = Draft202012Validator(projection_schema(name))
    documents: dict[str, dict[str, Any]] = getattr(scenario, attribute)
    assert documents
    for key, document in documents.items():
        errors = [e.message for e in validator.iter_errors(document)]
        assert not errors, (key, errors)
