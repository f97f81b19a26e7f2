"""The query core: Athena SQL templates run on DuckDB over real bucket files written here."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tollcli.backends.local import LocalBackend
from tollcli.backends.local.dialect import Catalog, translate
from tollcli.backends.local.engine import check_read_only
from tollcli.config import Settings
from tollcli.errors import TollError, UsageError
from tollcli.questions import question_sql, quiet_stations, run_question, time_range

STATIONS = ["183A", "SH130", "TX45", "TX290", "Exit79", "Exit29", "Exit620", "Exit66", "35North", "35South"]
WORKSHOP_WEIGHTS = [0.1] * 8 + [0.09, 0.01]
PLATES = ["6LD7N", "JQ3QZ5", "J80DP4", "T4OFLD", "AECZV8", "EDMTT", "ULORSTX", "XHRRET", "UMC6IZ", "XSUEJA"]
START = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)


def make_records(
    count: int, *, weights: list[float] = WORKSHOP_WEIGHTS, start: datetime = START, rate: float = 10.0, seed: int = 7
) -> list[tuple[str, str, str]]:
    """Records as the generator makes them: (date, station, plate), `rate` per second from `start`."""
    rng = random.Random(seed)
    stations = rng.choices(STATIONS, weights=weights, k=count)
    plates = rng.choices(PLATES, k=count)
    dates = [
        (start + timedelta(seconds=i / rate)).isoformat(timespec="milliseconds").replace("+00:00", "Z") for i in range(count)
    ]
    return list(zip(dates, stations, plates))


def write_objects(bucket: Path, records: list[tuple[str, str, str]], *, per_object: int = 5000, extra: bytes = b"") -> list[Path]:
    """Deliver records as Firehose objects under YYYY/MM/DD/HH/ (by each object's first record)."""
    paths = []
    for start in range(0, len(records), per_object):
        chunk = records[start : start + per_object]
        first = datetime.fromisoformat(chunk[0][0].replace("Z", "+00:00"))
        folder = bucket / f"{first:%Y/%m/%d/%H}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"toll-data-stream-1-{first:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"
        path.write_bytes("".join(f"{d},{s},{p}\n" for d, s, p in chunk).encode() + extra)
        paths.append(path)
    return paths


def set_up_home(home: Path) -> LocalBackend:
    backend = LocalBackend(Settings(home=home))
    backend.setup(buffer_mb=1, buffer_seconds=60)
    return backend


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return set_up_home(tmp_path / "home")


# --- translation and checks ----------------------------------------------------------------


def test_translation_keeps_strings_and_quoted_names_and_drops_the_catalog_prefix() -> None:
    catalog = Catalog(tables={"toll": {"t": {"date": "VARCHAR", "n": "BIGINT"}}}, default_schema="toll")
    sql = (
        "SELECT approx_percentile(n, 0.5), \"from_iso8601_timestamp\", 'from_iso8601_timestamp(x)' "
        "FROM awsdatacatalog.toll.t WHERE from_iso8601_timestamp (date) > FROM_ISO8601_TIMESTAMP('2026-01-01Z') "
        "-- approx_distinct(x)"
    )
    out = translate(sql, catalog).sql
    assert "APPROX_QUANTILE(t.n, 0.5)" in out
    assert '"from_iso8601_timestamp"' in out and "'from_iso8601_timestamp(x)'" in out
    assert "awsdatacatalog" not in out and "approx_distinct" not in out.lower()
    assert 'SELECT "user" AS "user" FROM toll."t"' in translate("SELECT `user` FROM `t`", catalog).sql


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE lab_toll_data_stream",
        "INSERT INTO t VALUES (1)",
        "CREATE TABLE x AS SELECT 1",
        "COPY (SELECT 1) TO 'x.csv'",
        "ATTACH 'other.db'",
        "PRAGMA version",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET threads = 1",
        "CALL pragma_version()",
        "SELECT 1; SELECT 2",
        "SELECT 1; DROP TABLE x",
        "   ",
    ],
)
def test_read_only_check_refuses_everything_but_one_select(sql: str) -> None:
    with pytest.raises(UsageError):
        check_read_only(sql)


def test_read_only_check_accepts_selects() -> None:
    for sql in ["SELECT 1", "WITH a AS (SELECT 1) SELECT * FROM a", "DESCRIBE lab_toll_data_stream", "VALUES (1)"]:
        assert check_read_only(sql) == sql


def test_durations_and_time_ranges() -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)
    assert time_range(last="15m", now=now) == (now - timedelta(minutes=15), now)
    assert time_range(since="2026-11-28T08:00:00Z")[0] == datetime(2026, 11, 28, 8, tzinfo=timezone.utc)
    assert time_range(since="2026-11-28T09:00:00+01:00")[0] == datetime(2026, 11, 28, 8, tzinfo=timezone.utc)
    with pytest.raises(UsageError):
        time_range(since="yesterday")
    with pytest.raises(UsageError):
        time_range(since="2026-11-28T09:00:00Z", until="2026-11-28T08:00:00Z")
    with pytest.raises(UsageError):
        time_range(since="2026-11-28T09:00:00Z", last="15m")
    with pytest.raises(UsageError, match="--until"):  # --last ends now: an --until would contradict it
        time_range(until="2026-11-28T13:00:00Z", last="15m", now=now)


def test_question_sql_is_athena_sql_from_the_templates() -> None:
    sql = question_sql("busiest", since=START, limit=3)
    assert "try(from_iso8601_timestamp(\"date\")) >= from_iso8601_timestamp('2026-11-28T08:00:00.000Z')" in sql
    assert "station_rank <= 3" in sql and "--" not in sql
    assert "count(*) AS records" in question_sql("quiet")
    assert "count_if(try(from_iso8601_timestamp" in question_sql("quiet", until=START)
    with pytest.raises(UsageError):
        question_sql("loudest")
    with pytest.raises(UsageError):
        question_sql("busiest", limit=0)


# --- the questions against counts computed here -------------------------------------------


def test_busiest_and_most_active_match_independent_counts(backend: LocalBackend) -> None:
    records = make_records(12_000)
    write_objects(backend.bucket_path, records, per_object=2500)
    stations = Counter(s for _, s, _ in records)
    plates = Counter(p for _, _, p in records)

    busiest = run_question(backend, "busiest")
    assert busiest.total_records == len(records) and busiest.skipped_rows == 0
    assert {row[0]: row[1] for row in busiest.rows} == dict(stations)
    assert [row[1] for row in busiest.rows] == sorted(stations.values(), reverse=True)
    assert busiest.rows[0][0] == stations.most_common(1)[0][0]
    assert sum(row[2] for row in busiest.rows) == pytest.approx(100, abs=0.1)

    active = run_question(backend, "most-active", limit=2)
    assert active.total_records == len(records)
    top = plates.most_common()
    assert [row[0] for row in active.rows[:2]] == [name for name, _ in top[:2]] or top[0][1] == top[1][1]
    assert active.rows[0][1] == top[0][1]


def test_a_limit_keeps_ties(backend: LocalBackend) -> None:
    records = [(f"2026-11-28T08:00:{i % 60:02d}.000Z", s, "P1") for i, s in enumerate(["A"] * 3 + ["B"] * 3 + ["C"] * 2 + ["D"])]
    write_objects(backend.bucket_path, records)
    answer = run_question(backend, "busiest", limit=1)
    assert [(row[0], row[1], row[3]) for row in answer.rows] == [("A", 3, 1), ("B", 3, 1)]
    assert answer.total_records == 9


def test_time_filters_keep_the_half_open_range(backend: LocalBackend) -> None:
    records = make_records(6000, rate=1.0)  # 100 minutes from 08:00
    write_objects(backend.bucket_path, records, per_object=1000)
    since, until = START + timedelta(minutes=10), START + timedelta(minutes=40)
    expected = Counter(s for d, s, _ in records if since <= datetime.fromisoformat(d.replace("Z", "+00:00")) < until)
    answer = run_question(backend, "busiest", since=since, until=until)
    assert answer.total_records == 1800 == sum(expected.values())
    assert {row[0]: row[1] for row in answer.rows} == dict(expected)
    later = run_question(backend, "most-active", since=START + timedelta(minutes=99))
    assert later.total_records == 60
    nothing = run_question(backend, "busiest", since=START + timedelta(days=1))
    assert nothing.empty and nothing.rows == [] and any("no data yet" in n for n in nothing.notes)


def test_quiet_names_35south_on_the_workshop_weights(backend: LocalBackend) -> None:
    write_objects(backend.bucket_path, make_records(24_000))
    answer = run_question(backend, "quiet")
    assert answer.flagged == ["35South"]
    row = answer.records()[0]
    assert row["station"] == "35South" and 85 <= row["below_median_pct"] <= 95


def test_quiet_names_tx45_after_its_weight_drops_to_zero(backend: LocalBackend) -> None:
    before = make_records(12_000, seed=1)
    dropped = [1.0 if s != "TX45" else 0.0 for s in STATIONS]
    weights = [w * d for w, d in zip(WORKSHOP_WEIGHTS, dropped)]
    after = make_records(24_000, weights=weights, start=START + timedelta(hours=1), seed=2)
    write_objects(backend.bucket_path, before + after)
    recent = run_question(backend, "quiet", since=START + timedelta(hours=1))
    assert sorted(recent.flagged) == ["35South", "TX45"]
    assert recent.records()[0]["station"] == "TX45" and recent.records()[0]["records"] == 0
    overall = run_question(backend, "quiet")  # a third of the day at full weight: still far below
    assert sorted(overall.flagged) == ["35South", "TX45"]


def test_quiet_names_nobody_when_all_weights_are_equal(backend: LocalBackend) -> None:
    write_objects(backend.bucket_path, make_records(24_000, weights=[0.1] * 10))
    answer = run_question(backend, "quiet")
    assert answer.flagged == [] and len(answer.rows) == 10
    assert any("no station" in note for note in answer.notes)


def test_quiet_ignores_noise_on_small_samples() -> None:
    assert [r["station"] for r in quiet_stations({"A": 4, "B": 4, "C": 5, "D": 1}) if r["quiet"]] == []
    assert [r["station"] for r in quiet_stations({"A": 400, "B": 400, "C": 500, "D": 100}) if r["quiet"]] == ["D"]
    assert quiet_stations({}) == []


# --- bad rows, empty tables, other tables --------------------------------------------------


BAD_LINES = [
    b"\n",  # empty line
    b"2026-11-28T08:10:00.000Z,TX45\n",  # too few fields
    b"2026-11-28T08:10:00.000Z,TX45,P1,extra\n",  # too many
    b"not-a-date,TX45,P1\n",  # unparseable date
    b"2026-11-28T08:10:00.000Z,,P1\n",  # empty station
    b"2026-11-28T08:10:00.000Z,TX45,P1",  # the last record without its newline: still a row
]


def test_bad_rows_are_skipped_and_counted_and_strict_fails(backend: LocalBackend) -> None:
    records = make_records(3000)
    write_objects(backend.bucket_path, records, per_object=1000, extra=b"".join(BAD_LINES))
    answer = run_question(backend, "busiest")
    assert answer.total_records == 3000 + 3  # each object's unterminated last record is a row
    assert answer.skipped_rows == 3 * 5
    assert run_question(backend, "busiest").skipped_rows == 15  # from the object index, same count
    with pytest.raises(TollError) as failure:
        run_question(backend, "busiest", strict=True)
    assert failure.value.exit_status == 1 and "15 bad row" in failure.value.message
    rows = backend.query("SELECT count(*) FROM lab_toll_data_stream WHERE toll = 'TX45' AND \"user\" = 'P1'").rows
    assert rows == [(3,)]


def test_in_flight_temporary_objects_are_ignored(backend: LocalBackend) -> None:
    write_objects(backend.bucket_path, make_records(100))
    folder = next(p for p in backend.bucket_path.rglob("*") if p.is_file()).parent
    (folder / ".toll-data-stream-1-partial.tmp").write_bytes(b"2026-11-28T08:00:00.000Z,TX45,P1\n" * 50)
    assert run_question(backend, "busiest").total_records == 100


def test_an_empty_bucket_is_no_data_yet(backend: LocalBackend) -> None:
    for name in ("busiest", "most-active", "quiet"):
        answer = run_question(backend, name)
        assert answer.empty and answer.rows == [] and answer.skipped_rows == 0
        assert any("no data yet" in note for note in answer.notes)
    assert backend.query("SELECT count(*), min(from_iso8601_timestamp(date)) FROM toll.lab_toll_data_stream").rows == [(0, None)]


def test_query_before_setup_tells_to_run_setup(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"run `toll (--home \S+ )?setup` first"):
        run_question(LocalBackend(Settings(home=tmp_path / "nothing")), "busiest")


def test_sql_errors_are_usage_errors(backend: LocalBackend) -> None:
    write_objects(backend.bucket_path, make_records(10))
    for sql, fragment in [
        ("SELEC 1", "syntax"),
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("SELECT nope FROM lab_toll_data_stream", "nope"),
        ("SELECT * FROM read_csv('/etc/passwd')", "/etc/passwd"),
        ("DELETE FROM lab_toll_data_stream", "read-only"),
    ]:
        with pytest.raises(UsageError, match=fragment):
            backend.query(sql)


def test_other_ledger_tables_get_views_with_declared_types(backend: LocalBackend) -> None:
    """A jsonl table recorded the way the anomaly app records `toll.anomaly_scores`."""
    from tollcli.state import Resource

    scores = backend.home / "anomaly" / "scores"
    scores.mkdir(parents=True)
    rows = [{"window_start": "2026-11-28T08:00:00Z", "station": "TX45", "vehicle_count": 7, "anomaly_score": 3.5}]
    (scores / "part-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (scores / ".part-2.jsonl.tmp").write_text("garbage\n")
    ledger = backend.require_ledger()
    columns = {"window_start": "VARCHAR", "station": "VARCHAR", "vehicle_count": "INTEGER", "anomaly_score": "DOUBLE"}
    ledger.record(
        Resource(
            kind="table", name="toll.anomaly_scores", settings={"columns": columns, "location": str(scores), "format": "jsonl"}
        )
    )
    result = backend.query("SELECT station, vehicle_count + 1, anomaly_score FROM anomaly_scores WHERE anomaly_score > 2.5")
    assert result.rows == [("TX45", 8, 3.5)]
    assert backend.query("SELECT count(*) FROM toll.anomaly_scores").rows == [(1,)]
    (scores / "part-1.jsonl").unlink()
    assert backend.query("SELECT count(*) FROM anomaly_scores").rows == [(0,)]


def test_the_ddl_template_matches_both_backends_tables() -> None:
    """One schema: the workshop's DDL, the local table's declared types and the Glue table agree."""
    from tollcli.backends.local.backend import TABLE_COLUMNS
    from tollcli.backends.local.engine import ddl_columns
    from tollcli.paths import read_template

    assert ddl_columns() == TABLE_COLUMNS == {"date": "VARCHAR", "toll": "VARCHAR", "user": "VARCHAR"}
    glue = json.loads(read_template("aws", "glue-table.json").replace("${", "").replace("$", ""))
    assert {c["Name"]: c["Type"] for c in glue["StorageDescriptor"]["Columns"]} == dict.fromkeys(TABLE_COLUMNS, "string")
