"""The value of a hop record: a task leg's events, on their way to the task's partition.

Only replay processes write and read the hop topic, so its values need not be the JSON
of the worker's per-entity streams: msgpack of the `Event` Structs themselves, encoded and
decoded in C by msgspec, takes about a quarter of `Event.to_json` and `unbundle`'s CPU (a
third of the raw records hop; docs/replay.md, "Speed"). Everything orjson decodes from a
raw record (ints within 64 bits, floats, strings, lists, dicts) comes back equal. Values
written as JSON by an earlier version (a rerun of a replay begun before it) are still
read: a msgpack value never starts with `[` or `{`. Every process of one replay runs the
same version (an earlier one cannot read these values).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from wxcc_stream.processors.core.routing import unbundle
from wxcc_stream.schemas.event import Event

__all__ = ["decode_hop", "encode_hop"]

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(tuple[Event, ...])
_JSON_STARTS = frozenset(b"[{")


def encode_hop(events: Sequence[Event]) -> bytes:
    """A hop record's value for `events`."""
    return _encoder.encode(events)


def decode_hop(value: bytes) -> tuple[Event, ...]:
    """The events of a hop record's value (msgpack, or the JSON of earlier versions)."""
    if value[:1] and value[0] in _JSON_STARTS:
        return tuple(unbundle(value))
    return _decoder.decode(value)
