"""The Search API's GraphQL schema (the `taskDetails` part the reconciliation uses).

Served by graphql-core from SDL, so queries are parsed, validated and executed as the
real endpoint does: an unknown field or a bad argument is a GraphQL error, not a 500.
Names and types follow the vendor's public description (wxcc-api.md); `Long` carries
epoch milliseconds, beyond GraphQL's 32-bit `Int`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLScalarType,
    GraphQLSchema,
    IntValueNode,
    StringValueNode,
    ValueNode,
    build_schema,
)

_NUMBER_OPS = "equals: {t} notequals: {t} gt: {t} gte: {t} lt: {t} lte: {t}"
_LONG_FIELDS = [
    "createdTime",
    "endedTime",
    "totalDuration",
    "connectedDuration",
    "holdDuration",
    "consultDuration",
    "conferenceDuration",
    "queueDuration",
    "ringingDuration",
    "wrapupDuration",
]
_INT_FIELDS = [
    "connectedCount",
    "holdCount",
    "consultCount",
    "conferenceCount",
    "queueCount",
    "transferCount",
    "blindTransferCount",
]
_STRING_FIELDS = [
    "id",
    "status",
    "origin",
    "destination",
    "direction",
    "channelSubType",
    "lastWrapupCodeName",
    "terminationType",
    "terminationReason",
    "terminatingEnd",
    "contactReason",
    "recordingLocation",
]
_ENTITY_FIELDS = ["owner", "lastAgent", "lastTeam", "lastSite", "lastEntryPoint", "lastQueue"]

SDL = f"""
scalar Long
enum QueryTimeType {{ createdTime endedTime }}
enum ChannelType {{ telephony chat email social }}
input Pagination {{ cursor: String }}
input StringFilter {{ equals: String notequals: String match: String contains: String }}
input LongFilter {{ {_NUMBER_OPS.format(t="Long")} }}
input IntFilter {{ {_NUMBER_OPS.format(t="Int")} }}
input BooleanFilter {{ equals: Boolean notequals: Boolean }}
input ChannelTypeFilter {{ equals: ChannelType notequals: ChannelType }}
input EntityFilter {{ id: StringFilter name: StringFilter }}
input TaskDetailsFilters {{
  and: [TaskDetailsFilters!] or: [TaskDetailsFilters!] not: TaskDetailsFilters
  channelType: ChannelTypeFilter isActive: BooleanFilter captureRequested: BooleanFilter
  {" ".join(f"{name}: StringFilter" for name in _STRING_FIELDS)}
  {" ".join(f"{name}: LongFilter" for name in _LONG_FIELDS)}
  {" ".join(f"{name}: IntFilter" for name in _INT_FIELDS)}
  {" ".join(f"{name}: EntityFilter" for name in _ENTITY_FIELDS)}
}}
type Entity {{ id: String name: String }}
type Task {{
  channelType: String isActive: Boolean captureRequested: Boolean
  {" ".join(f"{name}: String" for name in _STRING_FIELDS)}
  {" ".join(f"{name}: Long" for name in _LONG_FIELDS)}
  {" ".join(f"{name}: Int" for name in _INT_FIELDS)}
  {" ".join(f"{name}: Entity" for name in _ENTITY_FIELDS)}
}}
type PageInfo {{ hasNextPage: Boolean! endCursor: String }}
type TaskDetailsList {{ tasks: [Task!]! pageInfo: PageInfo! }}
type Query {{
  taskDetails(
    from: Long!, to: Long!, timeComparator: QueryTimeType, filter: TaskDetailsFilters,
    pagination: Pagination
  ): TaskDetailsList
}}
"""

# taskDetails(from, to, timeComparator, filter, pagination) -> {tasks, pageInfo}
TaskDetails = Callable[..., dict[str, Any]]


def _long_value(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise GraphQLError(f"Long cannot represent {value!r}")
    try:
        return int(value)
    except ValueError:
        raise GraphQLError(f"Long cannot represent {value!r}") from None


def _long_literal(node: ValueNode, _variables: Any = None) -> int:
    if isinstance(node, IntValueNode | StringValueNode):
        return _long_value(node.value)
    raise GraphQLError("Long must be an integer")


def build_search_schema() -> GraphQLSchema:
    """The schema, with `Long` taught to carry 64-bit integers."""
    schema = build_schema(SDL)
    long_type = schema.type_map["Long"]
    assert isinstance(long_type, GraphQLScalarType)
    long_type.serialize = _long_value  # type: ignore[method-assign]
    long_type.parse_value = _long_value  # type: ignore[method-assign]
    long_type.parse_literal = _long_literal  # type: ignore[method-assign,assignment]
    return schema
