"""Load the JSON Schema files and the vendor's example payloads shipped as package data."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import orjson

from wxcc_stream.schemas.models import EVENT_TYPES

PROJECTIONS = ("agent-state", "task-lifecycle")


def file_stem(event_type: str) -> str:
    """The file name stem of an event type: `agent:login` -> `agent.login`."""
    return event_type.replace(":", ".", 1)


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of one known event type (a fresh dict each call)."""
    if event_type not in EVENT_TYPES:
        raise KeyError(f"no schema for event type {event_type!r}")
    return _load(("json", "events", f"{file_stem(event_type)}.schema.json"))


def cloudevent_schema() -> dict[str, Any]:
    """The JSON Schema of the CloudEvents envelope, for any event type."""
    return _load(("json", "cloudevent.schema.json"))


def projection_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of a projection document: `agent-state` or `task-lifecycle`."""
    if name not in PROJECTIONS:
        raise KeyError(f"no projection schema {name!r}; known: {', '.join(PROJECTIONS)}")
    return _load(("json", f"projection.{name}.schema.json"))


def vendor_examples() -> dict[str, bytes]:
    """The vendor reference's example payloads, event type -> raw JSON bytes."""
    folder = _root().joinpath("examples")
    return {
        stem.replace(".", ":", 1): _read(("examples", f"{stem}.json"))
        for stem in sorted(
            entry.name.removesuffix(".json")
            for entry in folder.iterdir()
            if entry.name.endswith(".json")
        )
    }


def _root() -> Traversable:
    return files("schemas")


def _load(parts: tuple[str, ...]) -> dict[str, Any]:
    # Decode on every call so callers may mutate what they get without touching the cache.
    loaded: dict[str, Any] = orjson.loads(_read(parts))
    return loaded


@cache
def _read(parts: tuple[str, ...]) -> bytes:
    return _root().joinpath(*parts).read_bytes()
