"""The OpenAPI 3.1 description, built on the projection JSON Schemas (the same files the
worker's documents are checked against), so the two cannot drift apart."""

from __future__ import annotations

from functools import cache
from typing import Any

from wxcc_stream import __version__
from wxcc_stream.schemas.files import projection_schema

_INT_OR_NULL = {"type": ["integer", "null"]}
_COUNT = {"type": "integer", "minimum": 0}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _projection(name: str) -> dict[str, Any]:
    schema = projection_schema(name)
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    return schema


def _object(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "required": sorted(properties), "properties": properties, **extra}


def _schemas() -> dict[str, Any]:
    state_figures = _object({
        "agents": _COUNT, "longestTimeInStateMs": _COUNT, "totalTimeInStateMs": _COUNT,
    })  # fmt: skip
    task_figures = {
        "totalAcceptedTasks": _COUNT,
        "totalAbandonedTasks": _COUNT,
        "averageHandledTime": _INT_OR_NULL,
        "averageEnqueuedTime": _INT_OR_NULL,
        "serviceLevelThresholdPercentage": {"type": ["number", "null"]},
        "serviceLevelOffered": _COUNT,
        "serviceLevelWithin": _COUNT,
    }
    return {
        "AgentState": _projection("agent-state"),
        "TaskLifecycle": _projection("task-lifecycle"),
        "AgentPage": _object(
            {
                "items": {"type": "array", "items": _ref("AgentState")},
                "next": {"type": ["string", "null"], "description": "cursor of the next page"},
            }
        ),
        "TaskPage": _object(
            {
                "items": {"type": "array", "items": _ref("TaskLifecycle")},
                "next": {"type": ["string", "null"], "description": "cursor of the next page"},
            }
        ),
        "TeamFigures": _object(
            {
                "teamId": {"type": ["string", "null"]},
                "agents": _COUNT,
                "loggedIn": _COUNT,
                "states": {"type": "object", "additionalProperties": state_figures},
            }
        ),
        "QueueFigures": _object(
            {
                "queueId": {"type": ["string", "null"]},
                "contactsInQueue": _COUNT,
                "contactsInProgress": _COUNT,
                "longestContactInQueueMs": _INT_OR_NULL,
                "oldestQueuedSince": _INT_OR_NULL,
            }
        ),
        "TaskFigures": _object(task_figures),
        "QueueTaskFigures": _object({"queueId": {"type": ["string", "null"]}, **task_figures}),
        "Aggregates": _object(
            {
                "now": {"type": "integer"},
                "teams": {"type": "array", "items": _ref("TeamFigures")},
                "queues": {"type": "array", "items": _ref("QueueFigures")},
                "window": _object(
                    {
                        "from": {"type": "integer"},
                        "to": {"type": "integer"},
                        "timeZone": {"type": "string"},
                    }
                ),
                "serviceLevelThresholdMs": _COUNT,
                "tasks": _ref("TaskFigures"),
                "tasksByQueue": {"type": "array", "items": _ref("QueueTaskFigures")},
                "freshness": _object(
                    {
                        "newestEventTime": _INT_OR_NULL,
                        "lastChangeAt": _INT_OR_NULL,
                        "lagRecords": _INT_OR_NULL,
                        "staleAfterMs": _COUNT,
                    }
                ),
                "longIdleMs": _COUNT,
            }
        ),
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "parameter": {"type": "string", "description": "the bad query parameter"},
            },
        },
        "Health": _object({"status": {"const": "ok"}}),
        "Readiness": _object(
            {
                "ready": {"type": "boolean"},
                "caughtUp": {"type": "boolean"},
                "draining": {"type": "boolean"},
                "agents": _COUNT,
                "tasks": _COUNT,
                "lagRecords": _INT_OR_NULL,
                "error": {"type": ["string", "null"]},
            }
        ),
    }


_JSON = "application/json"
_PROBLEM = "application/problem+json"
_DESCRIPTIONS = {
    400: "a query parameter cannot be used (the problem names it)",
    401: "no token, or not a token of WXCC_API_TOKENS",
    403: "the token's scope does not include this team or queue",
    404: "no such document",
    503: "still reading the projection topics (Retry-After)",
}
_POSITION = {
    "X-Stream-Position": {
        "description": "the stream position this answer reflects: pass it as Last-Event-ID "
        "to GET /stream to miss no change made after it",
        "schema": {"type": "string"},
    }
}


def _ok(schema: str, description: str, media: str = _JSON) -> dict[str, Any]:
    return {
        "200": {
            "description": description,
            "headers": _POSITION,
            "content": {media: {"schema": _ref(schema)}},
        }
    }


def _refusals(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {
            "description": _DESCRIPTIONS[status],
            "content": {_PROBLEM: {"schema": _ref("Problem")}},
        }
        for status in statuses
    }


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name, "in": "query", "required": False, "description": description,
        "schema": schema or {"type": "string"},
    }  # fmt: skip


_LIST = "one or more values separated by commas"
_PAGING = [
    _query("limit", "page size", {"type": "integer", "minimum": 1}),
    _query("cursor", "the `next` of the previous page (same filters)"),
]
_EPOCH = {"type": "integer", "description": "epoch milliseconds"}
_SECURED: list[dict[str, list[str]]] = [{"bearer": []}]


def _get(summary: str, responses: dict[str, Any], parameters: list[Any], **extra: Any) -> Any:
    return {"get": {"summary": summary, "parameters": parameters, "responses": responses,
                    "security": _SECURED, **extra}}  # fmt: skip


def _paths() -> dict[str, Any]:
    agent_id = {"name": "agentId", "in": "path", "required": True, "schema": {"type": "string"}}
    task_id = {"name": "taskId", "in": "path", "required": True, "schema": {"type": "string"}}
    public: dict[str, Any] = {"security": []}
    return {
        "/agents": _get("Agents by team, state and logged-in, in agentId order", {
            **_ok("AgentPage", "a page of agent-state documents"), **_refusals(400, 401, 403, 503),
        }, [_query("team", f"team ids, {_LIST}"), _query("state", f"states, {_LIST}"),
            _query("loggedIn", "true or false", {"type": "boolean"}), *_PAGING]),
        "/agents/{agentId}": _get("One agent's state", {
            **_ok("AgentState", "the agent-state document"), **_refusals(401, 403, 404, 503),
        }, [agent_id]),
        "/tasks": _get("Tasks by queue, status, channel, created or ended time, in taskId order", {
            **_ok("TaskPage", "a page of task-lifecycle documents"),
            **_refusals(400, 401, 403, 503),
        }, [_query("queue", f"queue ids, {_LIST}"), _query("status", f"statuses, {_LIST}"),
            _query("channel", f"channel types, {_LIST}"),
            _query("createdFrom", "newTime at or after", _EPOCH),
            _query("createdTo", "newTime before", _EPOCH),
            _query("endedFrom", "endedTime at or after", _EPOCH),
            _query("endedTo", "endedTime before", _EPOCH), *_PAGING]),
        "/tasks/{taskId}": _get("One task's lifecycle", {
            **_ok("TaskLifecycle", "the task-lifecycle document"), **_refusals(401, 403, 404, 503),
        }, [task_id]),
        "/aggregates": _get("Per team, per queue, and over a window (default since midnight)", {
            **_ok("Aggregates", "the figures (docs/api.md defines each)"),
            **_refusals(400, 401, 403, 503),
        }, [_query("team", f"team ids, {_LIST}"), _query("queue", f"queue ids, {_LIST}"),
            _query("from", "window start (default: midnight in the org's time zone)", _EPOCH),
            _query("to", "window end (default: now)", _EPOCH)]),
        "/stream": _get("Projection changes as Server-Sent Events", {
            "200": {"description": "events `agent` and `task` (data: kind, key, revision, "
                    "document), `ready` at the start and `reset` when the client must reload; "
                    "each id is a position to resume from with Last-Event-ID",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            **_refusals(400, 401, 403, 503),
        }, [_query("kind", "agent, task or both"),
            _query("team", f"agents of these teams, {_LIST}"),
            _query("queue", f"tasks of these queues, {_LIST}"),
            _query("lastEventId", "as the Last-Event-ID header"),
            {"name": "Last-Event-ID", "in": "header", "required": False,
             "schema": {"type": "string"}}]),
        "/healthz": {"get": {"summary": "Alive", **public, "responses": {"200": {
            "description": "serving", "content": {_JSON: {"schema": _ref("Health")}}}}}},
        "/readyz": {"get": {"summary": "Ready: caught up with both projection topics", **public,
            "responses": {code: {"description": text, "content": {_JSON: {
                "schema": _ref("Readiness")}}} for code, text in (
                    ("200", "ready"), ("503", "not ready yet"))}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", **public, "responses": {"200": {
            "description": "text exposition", "content": {"text/plain": {
                "schema": {"type": "string"}}}}}}},
    }  # fmt: skip


@cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wxcc-stream query API",
            "version": __version__,
            "description": "Read-only views of the agent-state and task-lifecycle projections, "
            "the figures a supervisor watches, and a live stream of changes. docs/api.md.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": _SECURED,
        "paths": _paths(),
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description (shared; treat as read-only)."""
    return _document()
