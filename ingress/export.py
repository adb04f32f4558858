"""Export files of CloudEvents, taken item by item and admitted as a delivery is. Pure.

An export is JSON Lines (one structured CloudEvent per line, blank lines ignored) or one
JSON array of them. Each item is checked by the ingress's own admission code, with the
rules that fit an archive rather than a live sender: no signature and no timestamp window
(the operator vouches for the file, and its events are old), the org and subscription
allow-lists as configured, and wxcc-stream's own reconciled events allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from wxcc_stream.ingress.admission import JSON_TYPE, Accepted, admit
from wxcc_stream.ingress.batch import split_array
from wxcc_stream.ingress.errors import IngressError
from wxcc_stream.ingress.policy import AdmissionPolicy
from wxcc_stream.ingress.problems import Rejection
from wxcc_stream.ingress.records import OutRecord, deadletter_record, raw_record
from wxcc_stream.schemas.cloudevent import SchemaError, decode_json

_HEADERS: Mapping[str, str] = {"Content-Type": JSON_TYPE}
_WS = b" \t\r\n"


class ExportFormatError(IngressError):
    """A file that is neither JSON Lines nor a JSON array (nothing of it can be taken)."""


@dataclass(frozen=True, slots=True)
class ExportItem:
    """One item of an export: the line it starts on (1-based) and its bytes."""

    line: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Topics:
    """Where admitted and refused items go."""

    raw: str
    deadletter: str


def archive_policy(live: AdmissionPolicy) -> AdmissionPolicy:
    """The live policy's allow-lists, without the checks only a live delivery can pass."""
    return replace(live, verify_signatures=False, reconciled_allowed=True)


def is_array(head: bytes) -> bool:
    """Whether a file starting with `head` is a JSON array (else JSON Lines)."""
    return head.lstrip(_WS)[:1] == b"["


def lines_items(lines: Iterable[bytes], first_line: int = 1) -> Iterator[ExportItem]:
    """The items of JSON Lines, numbered from `first_line`; blank lines are skipped."""
    for number, line in enumerate(lines, first_line):
        body = line.strip(_WS)
        if body:
            yield ExportItem(number, body)


def array_items(data: bytes) -> list[ExportItem]:
    """The items of a file holding one JSON array, each with the line it starts on."""
    try:
        decoded = decode_json(data)
    except SchemaError as err:
        raise ExportFormatError(f"not a JSON array: {err.reason}") from None
    if not isinstance(decoded, list):
        raise ExportFormatError("not a JSON array")
    items = []
    cursor = 0
    for element in split_array(data):
        start = data.find(element, cursor)
        cursor = start + len(element)
        items.append(ExportItem(data.count(b"\n", 0, start) + 1, element))
    return items


def record_of(
    item: ExportItem,
    *,
    file: str,
    policy: AdmissionPolicy,
    topics: Topics,
    now_ms: int,
) -> tuple[OutRecord, Rejection | None]:
    """The record to store for one item: the raw-topic record of its event, keyed like the
    ingress keys it, or its dead letter (with the file and line) and the reason."""
    decision = admit(item.body, _HEADERS, policy, now_ms=now_ms)
    if isinstance(decision, Accepted):
        (admitted,) = decision.events
        return raw_record(topics.raw, admitted.event, admitted.value, received_at=now_ms), None
    letter = deadletter_record(
        topics.deadletter, item.body, decision, (), received_at=now_ms, path=f"backfill:{file}"
    )
    where = (("backfill_file", file.encode()), ("backfill_line", b"%d" % item.line))
    return replace(letter, headers=letter.headers + where), decision
