"""Objects toll's own delivery wrote are recorded well-formed when written; queries check only the others.

`well_formed_rows` is checked against the query engine's own rule (`valid_row_sql`, run by
DuckDB over the same bytes): whenever it calls an object well-formed, DuckDB keeps every row.
"""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

import tollcli.backends.local.engine as engine
from test_queries import make_records, write_objects
from tollcli.backends.local.delivery import well_formed_rows
from tollcli.records import COLUMNS

GOOD = b"2026-11-28T08:00:00.000Z,TX45,6LD7N\n2026-11-28T08:00:00.010Z,SH130,EDMTT\n"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        GOOD[:-1],  # no final newline
        GOOD + b"\n",  # an empty line
        GOOD + b"2026-11-28T08:00:00.020Z,TX45\n",  # two fields
        GOOD + b"2026-11-28T08:00:00.020Z,TX45,A,B\n",  # four fields
        GOOD + b"2026-11-28T08:00:00.020Z,,A\n",  # an empty field
        GOOD + b"2026-11-28T08:00:00.020Z,TX45,\n",
        GOOD + b",TX45,A\n",
        GOOD + b"2026-13-28T08:00:00.020Z,TX45,A\n",  # month 13
        GOOD + b"2026-02-29T08:00:00.020Z,TX45,A\n",  # not a leap year
        GOOD + b"2026-11-28T24:00:00.020Z,TX45,A\n",
        GOOD + b"2026-11-28 08:00:00.02,TX45,A\n",  # another layout: left to the query engine
        GOOD + b'2026-11-28T08:00:00.020Z,"TX45",A\n',
    ],
)
def test_anything_but_good_rows_is_not_recorded(data: bytes) -> None:
    assert well_formed_rows(data) is None


def test_good_rows_are_counted() -> None:
    assert well_formed_rows(GOOD) == 2
    assert well_formed_rows(b"2024-02-29T23:59:59Z,A,B\n") == 1  # a leap day, seconds only


def _duckdb_good_rows(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    columns = dict.fromkeys(COLUMNS, "VARCHAR")
    reader = engine.csv_reader_sql([path], columns)
    return con.execute(f"SELECT count(*) FROM {reader} WHERE {engine.valid_row_sql(columns)}").fetchone()[0]


def test_well_formed_agrees_with_the_query_engine(tmp_path: Path) -> None:
    """Random damage to good lines: whatever the check accepts, DuckDB keeps whole."""
    rng = random.Random(15)
    alphabet = b"0123456789-:TZ.,\n ab"
    lines = [f"{d},{s},{p}\n".encode() for d, s, p in make_records(40)]
    accepted = 0
    con = duckdb.connect()
    for trial in range(300):
        data = bytearray(b"".join(lines))
        for _ in range(rng.randint(0, 2)):
            data[rng.randrange(len(data))] = rng.choice(alphabet)
        path = tmp_path / f"object-{trial}"
        path.write_bytes(bytes(data))
        rows = well_formed_rows(bytes(data))
        if rows is not None:
            accepted += 1
            assert _duckdb_good_rows(con, path) == rows == bytes(data).count(b"\n"), bytes(data)
    assert 20 < accepted < 300  # both outcomes were exercised


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The objects the query engine checks (the real check runs; this only notes which)."""
    seen: list[Path] = []
    original = engine.check_objects

    def noting(con, objects, columns):  # type: ignore[no-untyped-def]
        seen.extend(o.path for o in objects)
        return original(con, objects, columns)

    monkeypatch.setattr(engine, "check_objects", noting)
    return seen


def test_first_query_checks_only_objects_from_elsewhere(toll, home: Path, checked: list[Path]) -> None:
    assert toll("setup").exit_code == 0
    made = toll(
        "generate", "--backfill", "--count", "3000", "--rate", "50", "--start", "2026-11-28T08:00:00Z", "--seed", "1", "-q"
    )
    assert made.exit_code == 0, made.output
    log = home / "catalog" / "delivered.jsonl"
    assert len(log.read_text().splitlines()) >= 1
    first = toll("query", "busiest", "--format", "json")
    assert first.exit_code == 0, first.output
    assert checked == []  # every object was toll's own
    assert '"total_records": 3000' in first.stdout

    bucket = home / "bucket"
    foreign = write_objects(bucket, make_records(100), extra=b"not,a,row\n")  # another producer, one bad line
    again = toll("query", "busiest", "--format", "json")
    assert [p.resolve() for p in checked] == [p.resolve() for p in foreign]
    assert '"total_records": 3100' in again.stdout and '"skipped_rows": 1' in again.stdout

    ours = sorted(p for p in bucket.rglob("toll-data-stream-1-*") if p not in foreign)[0]
    ours.write_bytes(ours.read_bytes() + b"2026-11-28T08:00:00.000Z,,X\n")  # changed after delivery: checked again
    checked.clear()
    third = toll("query", "busiest", "--format", "json")
    assert [p.resolve() for p in checked] == [ours.resolve()] and '"skipped_rows": 2' in third.stdout


def test_teardown_removes_the_delivery_log(toll, home: Path) -> None:
    assert toll("setup").exit_code == 0
    assert toll("generate", "--backfill", "--count", "200", "-q").exit_code == 0
    assert (home / "catalog" / "delivered.jsonl").exists()
    assert toll("teardown", "--yes").exit_code == 0
    assert not (home / "catalog").exists()
