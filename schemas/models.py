"""Typed models of the CloudEvents 1.0 envelope and of each WxCC event type's data object."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Self

from wxcc_stream.schemas.errors import SchemaError, json_kind

# Epoch milliseconds below 10**18 (year 31 million) keep every time inside int64, which is
# what orjson and Kafka timestamps can carry; anything larger is garbage, not a date.
MAX_EPOCH_MS = 10**18 - 1
_MAX_DIGITS = len(str(MAX_EPOCH_MS))

SPECVERSION = "1.0"
# The vendor's reference spells the org attribute both ways; the first one present wins.
ORG_ATTRIBUTES = ("comciscoorgid", "comciscocorgid")
TIMESTAMP_ATTRIBUTE = "comciscotimestamp"
# Set by our reconciliation job on the corrective events it emits.
RECONCILED_ATTRIBUTE = "wxccstreamreconciled"
REQUIRED_ATTRIBUTES = ("id", "source", "specversion", "type")


def epoch_ms(value: object, where: str, *, allow_string: bool = False) -> int:
    """Check that `value` is an epoch-ms integer (an integral float is fine) and return it."""
    if isinstance(value, bool):  # bool is an int subclass: reject it before the int branch
        raise SchemaError(where, "expected an integer, got boolean")
    if isinstance(value, int):
        ms = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise SchemaError(where, f"expected an integer, got {value!r}")
        ms = int(value)
    elif allow_string and isinstance(value, str):
        # Length first: int() of a huge digit string is slow and raises past 4300 digits.
        if not (0 < len(value) <= _MAX_DIGITS and value.isascii() and value.isdigit()):
            raise SchemaError(where, f"expected an integer or a string of digits, got {value!r}")
        ms = int(value)
    else:
        raise SchemaError(where, f"expected an integer, got {json_kind(value)}")
    if not 0 <= ms <= MAX_EPOCH_MS:
        raise SchemaError(where, f"{ms} is out of range for epoch milliseconds")
    return ms


def required_string(raw: Mapping[str, Any], key: str, where: str) -> str:
    """The non-empty string at `raw[key]`, else a SchemaError naming `where`."""
    value = raw.get(key)
    if value is None:
        raise SchemaError(where, "missing")
    if not isinstance(value, str):
        raise SchemaError(where, f"expected a string, got {json_kind(value)}")
    if not value:
        raise SchemaError(where, "must not be empty")
    return value


# --- data object fields -------------------------------------------------------------------

_Parse = Callable[[Mapping[str, Any], str], Any]


def _req_str(data: Mapping[str, Any], key: str) -> str:
    return required_string(data, key, f"data.{key}")


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise SchemaError(f"data.{key}", f"expected a string or null, got {json_kind(value)}")


def _opt_time(data: Mapping[str, Any], key: str) -> int | None:
    # Absent is fine (the time is inferred), but a present value must be a real integer.
    return epoch_ms(data[key], f"data.{key}") if key in data else None


def _opt_str_tuple(data: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise SchemaError(f"data.{key}", "expected an array of strings or null")


def _vendor(name: str, parse: _Parse) -> dict[str, Any]:
    return {"vendor": name, "parse": parse}


def _optional(name: str, parse: _Parse = _opt_str) -> Any:
    return field(default=None, metadata=_vendor(name, parse))


@dataclass(frozen=True, slots=True, kw_only=True)
class EventData:
    """Base of the typed data objects; `extra` keeps the fields we do not model."""

    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def vendor_fields(cls) -> tuple[str, ...]:
        """The vendor's names of the modelled fields, in declaration order."""
        return tuple(vendor for _, vendor, _ in _specs(cls))

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        """Build from a vendor data object; absent optional fields become None."""
        specs = _specs(cls)
        values = {name: parse(data, vendor) for name, vendor, parse in specs}
        known = {vendor for _, vendor, _ in specs}
        extra = {key: value for key, value in data.items() if key not in known}
        return cls(**values, extra=extra)


_Spec = tuple[str, str, _Parse]  # (attribute, vendor field name, parser)
_SPECS: dict[type[EventData], tuple[_Spec, ...]] = {}


def _specs(cls: type[EventData]) -> tuple[_Spec, ...]:
    # Computed once per class: from_data runs per event in the processors.
    specs = _SPECS.get(cls)
    if specs is None:
        specs = tuple(
            (f.name, f.metadata["vendor"], f.metadata["parse"])
            for f in fields(cls)
            if "vendor" in f.metadata
        )
        _SPECS[cls] = specs
    return specs


# --- agents -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentData(EventData):
    """Fields every agent event carries."""

    agent_id: str = field(metadata=_vendor("agentId", _req_str))
    current_state: str | None = _optional("currentState")
    created_time: int | None = _optional("createdTime", _opt_time)

    @property
    def state(self) -> str | None:
        """`currentState` lower-cased: the vendor sends both `Idle` and `idle`."""
        return None if self.current_state is None else self.current_state.lower()


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLogin(AgentData):
    """Data of `agent:login`."""

    destination: str | None = _optional("destination")
    profile_type: str | None = _optional("profileType")
    idle_code_id: str | None = _optional("idleCodeId")
    team_id: str | None = _optional("teamId")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLogout(AgentData):
    """Data of `agent:logout`."""

    logged_out_by: str | None = _optional("loggedOutBy")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStateChange(AgentData):
    """Data of `agent:state_change`; `task_id` is set when the state concerns a task."""

    destination: str | None = _optional("destination")
    queue_id: str | None = _optional("queueId")
    task_id: str | None = _optional("taskId")
    idle_code_id: str | None = _optional("idleCodeId")
    connected_channels: tuple[str, ...] | None = _optional("connectedChannels", _opt_str_tuple)
    wrap_up_aux_code_id: str | None = _optional("wrapUpAuxCodeId")
    team_id: str | None = _optional("teamId")


# --- captures -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureAvailable(EventData):
    """Data of `capture:available`."""

    task_id: str = field(metadata=_vendor("taskId", _req_str))
    file_path: str | None = _optional("filePath")
    created_time: int | None = _optional("createdTime", _opt_time)


# --- tasks --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskData(EventData):
    """Fields the task events share.

    The reference lists no `queueId` for task:new and only three fields for
    task:conference-done; all but taskId are optional, so one shape fits every type.
    """

    task_id: str = field(metadata=_vendor("taskId", _req_str))
    origin: str | None = _optional("origin")
    destination: str | None = _optional("destination")
    direction: str | None = _optional("direction")
    channel_type: str | None = _optional("channelType")
    outbound_type: str | None = _optional("outboundType")
    queue_id: str | None = _optional("queueId")
    created_time: int | None = _optional("createdTime", _opt_time)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskNew(TaskData):
    """Data of `task:new`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskParked(TaskData):
    """Data of `task:parked`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskConnect(TaskData):
    """Data of `task:connect`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskConnected(TaskData):
    """Data of `task:connected`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskOnHold(TaskData):
    """Data of `task:on-hold`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskHoldDone(TaskData):
    """Data of `task:hold-done`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskConsulting(TaskData):
    """Data of `task:consulting`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskConsultDone(TaskData):
    """Data of `task:consult-done`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskConferencing(TaskData):
    """Data of `task:conferencing`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskConferenceDone(TaskData):
    """Data of `task:conference-done`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskEnded(TaskData):
    """Data of `task:ended`."""

    terminating_party: str | None = _optional("terminatingParty")
    reason: str | None = _optional("reason")


EVENT_TYPES: Mapping[str, type[EventData]] = MappingProxyType(
    {
        "agent:login": AgentLogin,
        "agent:logout": AgentLogout,
        "agent:state_change": AgentStateChange,
        "capture:available": CaptureAvailable,
        "task:new": TaskNew,
        "task:parked": TaskParked,
        "task:connect": TaskConnect,
        "task:connected": TaskConnected,
        "task:on-hold": TaskOnHold,
        "task:hold-done": TaskHoldDone,
        "task:consulting": TaskConsulting,
        "task:consult-done": TaskConsultDone,
        "task:conferencing": TaskConferencing,
        "task:conference-done": TaskConferenceDone,
        "task:ended": TaskEnded,
    }
)
AGENT_TYPES = frozenset(t for t in EVENT_TYPES if t.startswith("agent:"))
TASK_TYPES = frozenset(t for t in EVENT_TYPES if t.startswith("task:"))
CAPTURE_TYPES = frozenset(t for t in EVENT_TYPES if t.startswith("capture:"))


def typed_data(event_type: str, data: Mapping[str, Any]) -> EventData | None:
    """The typed model of `data` for a known event type; None for a type we do not model."""
    model = EVENT_TYPES.get(event_type)
    return None if model is None else model.from_data(data)


# --- envelope -----------------------------------------------------------------------------

_MODELLED_ATTRIBUTES = frozenset({*REQUIRED_ATTRIBUTES, "data", RECONCILED_ATTRIBUTE})


@dataclass(frozen=True, slots=True, kw_only=True)
class CloudEventEnvelope:
    """A structured-mode CloudEvents 1.0 envelope as WxCC delivers it.

    Optional attributes that are null count as absent. `extensions` keeps every
    attribute not modelled here, as received (including `comciscotimestamp` and an
    org attribute that lost to the other spelling), so nothing the sender wrote is lost.
    """

    id: str
    source: str
    specversion: str
    type: str
    data: Mapping[str, Any]
    org_id: str | None = None
    timestamp: int | None = None
    reconciled: bool = False
    extensions: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Self:
        """Validate a decoded envelope; raise SchemaError naming the first bad attribute."""
        if not isinstance(raw, Mapping):
            raise SchemaError("body", f"expected a JSON object, got {json_kind(raw)}")
        ce_id, source, specversion, ce_type = (
            required_string(raw, name, name) for name in REQUIRED_ATTRIBUTES
        )
        if specversion != SPECVERSION:
            raise SchemaError("specversion", f"unsupported version {specversion!r}, expected '1.0'")
        data = raw.get("data")
        if not isinstance(data, Mapping):
            reason = "missing" if data is None else f"expected an object, got {json_kind(data)}"
            raise SchemaError("data", reason)
        content_type = raw.get("datacontenttype")
        if content_type is not None and not isinstance(content_type, str):
            raise SchemaError(
                "datacontenttype", f"expected a string, got {json_kind(content_type)}"
            )
        org_id, org_key = _org(raw)
        stamp = raw.get(TIMESTAMP_ATTRIBUTE)
        timestamp = (
            None if stamp is None else epoch_ms(stamp, TIMESTAMP_ATTRIBUTE, allow_string=True)
        )
        reconciled = raw.get(RECONCILED_ATTRIBUTE)
        if reconciled is not None and not isinstance(reconciled, bool):
            raise SchemaError(
                RECONCILED_ATTRIBUTE, f"expected a boolean, got {json_kind(reconciled)}"
            )
        extensions = {
            key: value
            for key, value in raw.items()
            if key not in _MODELLED_ATTRIBUTES and key != org_key
        }
        return cls(
            id=ce_id,
            source=source,
            specversion=specversion,
            type=ce_type,
            data=dict(data),
            org_id=org_id,
            timestamp=timestamp,
            reconciled=bool(reconciled),
            extensions=extensions,
        )


def _org(raw: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The org id and the attribute it came from; (None, None) when there is none."""
    found: tuple[str | None, str | None] = (None, None)
    # Check every spelling, not only the winner, so a bad one never slips through.
    for key in ORG_ATTRIBUTES:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise SchemaError(key, f"expected a string or null, got {json_kind(value)}")
        if value and found[0] is None:
            found = (value, key)
    return found
