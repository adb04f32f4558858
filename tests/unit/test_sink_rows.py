"""The sink's pure core: document -> row, batch collapse, migrations, statements."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.sink_documents import agent_doc, as_bytes, task_doc
from wxcc_stream.sink.batch import Incoming, highest_revision, stage
from wxcc_stream.sink.errors import BadDocument, MigrationError, NewerSchema
from wxcc_stream.sink.migrations import MIGRATIONS, Migration, check_sequence, pending
from wxcc_stream.sink.rows import (
    AGENT_TABLE,
    TASK_TABLE,
    Projection,
    document_row,
    parse_document,
    row_columns,
)
from wxcc_stream.sink.statements import create_stage, merge

AGENT = Projection.AGENT
TASK = Projection.TASK


def _row_dict(columns: tuple[str, ...], row: tuple[object, ...]) -> dict[str, object]:
    assert len(columns) == len(row)
    return dict(zip(columns, row, strict=True))


def test_an_agent_document_maps_to_its_typed_columns() -> None:
    doc = agent_doc(
        "a1", 7, org_id="o", team_id="t1", logged_in=True, state="available",
        state_since=1_700_000_000_123, session_start=1_700_000_000_000,
        last_event_time=1_700_000_000_123, idle_code_id="i9",
    )  # fmt: skip
    text = as_bytes(doc).decode()
    row = _row_dict(row_columns(AGENT_TABLE), document_row(AGENT_TABLE, "a1", doc, text))
    assert row == {
        "agent_id": "a1", "org_id": "o", "team_id": "t1", "logged_in": True,
        "state": "available", "state_since": 1_700_000_000_123, "idle_code_id": "i9",
        "session_start": 1_700_000_000_000, "last_event_time": 1_700_000_000_123,
        "revision": 7, "schema_version": 1, "doc": text,
    }  # fmt: skip


def test_a_task_document_maps_its_derived_figures() -> None:
    doc = task_doc(
        "t1", 9, status="ended", queue_id="q", new_time=1000, connect_time=3000,
        connected_time=4000, ended_time=10_000, hold_ms=1500, hold_count=2,
    )  # fmt: skip
    row = _row_dict(row_columns(TASK_TABLE), document_row(TASK_TABLE, "t1", doc, "{}"))
    assert row["queue_wait_ms"] == 2000
    assert row["talk_ms"] == 10_000 - 4000 - 1500
    assert (row["status"], row["hold_count"], row["ended_time"]) == ("ended", 2, 10_000)


@pytest.mark.parametrize(
    ("field", "value", "column", "expected"),
    [
        ("teamId", 42, "team_id", "42"),  # a widened type stays readable as text
        ("teamId", None, "team_id", None),
        ("stateSince", "soon", "state_since", None),  # never a wrong time
        ("loggedIn", "yes", "logged_in", None),
        ("stateSince", True, "state_since", None),
        ("schema_version", "2", "schema_version", None),
    ],
)
def test_unexpected_types_never_break_a_row(
    field: str, value: object, column: str, expected: object
) -> None:
    doc = agent_doc("a1", 1) | {field: value}
    row = _row_dict(row_columns(AGENT_TABLE), document_row(AGENT_TABLE, "a1", doc, "{}"))
    assert row[column] == expected


def test_new_fields_of_the_same_schema_version_live_on_in_the_document() -> None:
    doc = agent_doc("a1", 3) | {"skill": "billing"}
    staged = stage([Incoming(AGENT, b"a1", orjson.dumps(doc))])
    (row,) = staged.rows[AGENT]
    assert row[-2] == 1
    assert orjson.loads(row[-1])["skill"] == "billing"


def test_a_higher_schema_version_stops_the_whole_batch() -> None:
    good = Incoming(AGENT, b"a0", as_bytes(agent_doc("a0", 1)))
    newer = Incoming(AGENT, b"a1", orjson.dumps(agent_doc("a1", 3) | {"schema_version": 2}))
    with pytest.raises(NewerSchema, match="schema_version 2"):
        stage([good, newer])


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "no value"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"agentId": "a"}', "revision"),
        (b'{"revision": "3"}', "revision"),
        (b'{"revision": true}', "revision"),
    ],
)
def test_bad_records_are_refused_with_a_reason(value: bytes | None, reason: str) -> None:
    with pytest.raises(BadDocument, match=reason):
        parse_document(value)


def test_stage_sets_bad_records_aside_and_keys_by_record_or_document() -> None:
    good = as_bytes(task_doc("t1", 2))
    staged = stage(
        [
            Incoming(TASK, None, good),  # no record key: the document's taskId
            Incoming(TASK, b"t2", b"garbage"),
            Incoming(AGENT, None, b'{"revision": 1}'),  # no key anywhere
            Incoming(AGENT, b"\xff", as_bytes(agent_doc("a", 1))),
        ]
    )
    assert [r[0] for r in staged.rows[TASK]] == ["t1"]
    assert staged.rows[AGENT] == ()
    assert [r.projection for r in staged.rejected] == [TASK, AGENT, AGENT]
    assert staged.documents == {AGENT: 0, TASK: 1}


def test_stage_keeps_the_highest_revision_per_key() -> None:
    records = [
        Incoming(AGENT, b"a", as_bytes(agent_doc("a", 3))),
        Incoming(AGENT, b"a", as_bytes(agent_doc("a", 5))),
        Incoming(AGENT, b"a", as_bytes(agent_doc("a", 4))),
        Incoming(AGENT, b"b", as_bytes(agent_doc("b", 1))),
    ]
    staged = stage(records)
    assert sorted((r[0], r[-3]) for r in staged.rows[AGENT]) == [("a", 5), ("b", 1)]
    assert staged.row_count() == 2
    assert staged.documents[AGENT] == 4


Rows = st.lists(
    st.tuples(st.sampled_from("abcde"), st.integers(0, 20)).map(
        lambda kr: (kr[0], f"payload-{kr[0]}-{kr[1]}", kr[1], 1, "{}")
    ),
    max_size=40,
)


@given(Rows, st.randoms(use_true_random=False), st.integers(0, 3))
def test_collapse_is_the_maximum_whatever_the_order_or_duplication(
    rows: list[tuple[object, ...]], random: object, copies: int
) -> None:
    """Permutations and duplicates of a batch collapse to the same rows: per key, the
    highest revision."""
    shuffled = rows * (copies + 1)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    collapsed = highest_revision(shuffled)
    assert sorted(collapsed) == sorted(highest_revision(rows))
    want = {}
    for row in rows:
        if row[0] not in want or row[2] > want[row[0]][2]:  # type: ignore[operator]
            want[row[0]] = row
    assert {r[0]: r[2] for r in collapsed} == {k: r[2] for k, r in want.items()}
    assert len({r[0] for r in collapsed}) == len(collapsed)


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    check_sequence(MIGRATIONS)
    assert pending([]) == MIGRATIONS
    assert pending([m.version for m in MIGRATIONS]) == ()


def test_a_gap_in_the_migrations_is_refused() -> None:
    with pytest.raises(MigrationError, match=r"1\.\.n"):
        check_sequence([Migration(1, "a", ()), Migration(3, "c", ())])


def test_a_database_ahead_of_the_code_is_refused() -> None:
    with pytest.raises(MigrationError, match="upgrade the sink"):
        pending([1, 99])


def test_the_merge_only_moves_a_row_to_a_higher_revision() -> None:
    for table in (AGENT_TABLE, TASK_TABLE):
        sql = merge(table)
        assert sql.endswith("WHERE excluded.revision > t.revision")
        assert f"ON CONFLICT ({table.key})" in sql
        assert "ON COMMIT DELETE ROWS" in create_stage(table)
