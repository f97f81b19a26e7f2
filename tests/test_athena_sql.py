"""`toll query sql` prints Athena's values and says plainly what the local engine cannot do.

The printing rules are Athena's (its console and result CSV): timestamps with time zone as
`2026-11-28 08:00:00.000 UTC`, arrays `[a, b]`, maps `{k=v}`, doubles as Java prints them, every
CSV value quoted so NULL (an empty field) and '' (`""`) differ.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from test_queries import make_records, set_up_home, write_objects
from tollcli.athena_values import java_double
from tollcli.backends.local.dialect import Catalog, translate
from tollcli.backends.local.dialect_rewrites import joda_to_strftime
from tollcli.errors import UsageError

LINES_SQL = (
    "SELECT from_iso8601_timestamp(min(date)) AS first_seen, ARRAY['TX45', 'SH130'] AS pair, "
    "MAP(ARRAY['TX45'], ARRAY[2]) AS counts, '' AS empty, CAST(NULL AS varchar) AS nothing, 2.5e0 * 4 AS d, "
    "count(*) / 100 FROM lab_toll_data_stream"
)


@pytest.fixture
def lake(home: Path) -> None:
    backend = set_up_home(home)
    write_objects(backend.bucket_path, make_records(300))  # from 2026-11-28T08:00:00.000Z, 10 a second


def test_csv_distinguishes_null_from_empty_and_prints_like_athena(toll, lake) -> None:
    result = toll("query", "sql", LINES_SQL, "--format", "csv")
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header == '"first_seen","pair","counts","empty","nothing","d","_col6"'
    assert row == '"2026-11-28 08:00:00.000 UTC","[TX45, SH130]","{TX45=2}","",,"10.0","3"'
    parsed = next(csv.reader(io.StringIO(row)))
    assert parsed[3] == parsed[4] == ""  # a plain CSV reader loses the difference; the quoting keeps it


def test_table_and_json_print_the_same_values(toll, lake) -> None:
    narrow = "SELECT from_iso8601_timestamp(min(date)), ARRAY['TX45', 'SH130'], 2.5e0 * 4 FROM lab_toll_data_stream"
    table = toll("query", "sql", narrow)
    assert table.exit_code == 0, table.output
    for shown in ("2026-11-28 08:00:00.000 UTC", "[TX45, SH130]", "10.0", "_col0", "_col2"):
        assert shown in table.stdout
    payload = json.loads(toll("query", "sql", LINES_SQL, "--format", "json").stdout)
    row = payload["rows"][0]
    assert row["first_seen"] == "2026-11-28 08:00:00.000 UTC" and row["pair"] == ["TX45", "SH130"]
    assert row["counts"] == {"TX45": 2} and row["empty"] == "" and row["nothing"] is None and row["_col6"] == 3


def test_results_do_not_depend_on_the_machines_zone(toll_process, lake) -> None:
    sql = (
        "SELECT hour(from_iso8601_timestamp(min(date))), to_iso8601(from_iso8601_timestamp(min(date))) FROM lab_toll_data_stream"
    )
    for zone in ("America/Chicago", "Pacific/Auckland"):
        done = toll_process("query", "sql", sql, "--format", "csv", env={"TZ": zone})
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[1] == '"8","2026-11-28T08:00:00.000Z"'


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT soundex(toll) FROM lab_toll_data_stream", "soundex"),
        ("SELECT human_readable_seconds(90)", "human_readable_seconds"),
        ("SHOW PARTITIONS lab_toll_data_stream", "SHOW PARTITIONS"),
        # Trino keeps a zone other than UTC (2026-11-28 23:30:00.000 +05:30, hour() 23); DuckDB keeps the instant only.
        (
            "SELECT hour(from_iso8601_timestamp('2026-11-28T23:30:00+05:30'))",
            "from_iso8601_timestamp with a time zone offset other than UTC",
        ),
        (
            "SELECT to_iso8601(from_iso8601_timestamp('2026-11-28T23:30:00-0600'))",
            "from_iso8601_timestamp with a time zone offset other than UTC",
        ),
        (
            "SELECT timestamp '2026-12-01 00:00:00 UTC' AT TIME ZONE 'America/Chicago'",
            "AT TIME ZONE with a time zone other than UTC",
        ),
        ("SELECT timestamp '2026-12-01 00:00:00 America/Chicago'", "a timestamp literal with a time zone other than UTC"),
        (
            "SELECT with_timezone(timestamp '2026-12-01 00:00:00', 'Asia/Kolkata')",
            "with_timezone with a time zone other than UTC",
        ),
        ("SELECT from_unixtime(0, 'Asia/Kolkata')", "from_unixtime with a time zone other than UTC"),
        ("SELECT from_unixtime(0, 5, 30)", "from_unixtime with a time zone other than UTC"),
        # DuckDB's "is not in the catalog, but it exists in the spatial extension"
        ("SELECT ST_Point(1, 2)", "st_point"),
        # sqlglot's "Argument 'finish' is not supported for expression 'Reduce' when targeting DuckDB."
        ("SELECT reduce(ARRAY[1, 2, 3], 0, (s, x) -> s + x, s -> s)", "reduce (its argument finish)"),
        # Trino: varchar(3), a length DuckDB does not track
        ("SELECT typeof(upper('abc'))", "typeof of a value of type VARCHAR"),
        # DuckDB: "aggregates are not allowed inside the TRY expression"
        ("SELECT try(max(length(toll))) FROM lab_toll_data_stream", "try() around an aggregate"),
    ],
)
def test_unsupported_says_so_with_exit_2(toll, lake, sql: str, named: str) -> None:
    result = toll("query", "sql", sql)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"toll: error: not supported by the local engine (Athena has it): {named}"


def test_a_misspelt_function_is_the_querys_mistake_not_duckdbs(toll_process, lake) -> None:
    done = toll_process("query", "sql", "SELECT day_of_weak(now())")
    assert done.returncode == 2
    assert done.stderr.strip() == "toll: error: SQL error: Athena has no function named day_of_weak"
    assert "Scalar Function" not in done.stderr and "Traceback" not in done.stderr


def test_show_create_table_and_describe_in_athenas_layout(toll, lake, home: Path) -> None:
    created = toll("query", "sql", "SHOW CREATE TABLE lab_toll_data_stream", "--format", "json")
    lines = [row["createtab_stmt"] for row in json.loads(created.stdout)["rows"]]
    assert lines[:4] == [
        "CREATE EXTERNAL TABLE `toll`.`lab_toll_data_stream`(",
        "  `date` string,",
        "  `toll` string,",
        "  `user` string)",
    ]
    assert f"  '{home / 'bucket'}'" in lines or any(str(home) in line for line in lines)
    described = json.loads(toll("query", "sql", "DESCRIBE lab_toll_data_stream", "--format", "json").stdout)
    assert described["columns"] == ["col_name", "data_type", "comment"]
    assert [r["col_name"] for r in described["rows"]] == ["date", "toll", "user"]


def test_translation_is_cached_per_sql_and_catalog() -> None:
    catalog = Catalog(tables={"toll": {"t": {"n": "BIGINT"}}}, default_schema="toll")
    first = translate("SELECT n / 2 FROM t", catalog)
    assert translate("SELECT n / 2 FROM t", Catalog(tables={"toll": {"t": {"n": "BIGINT"}}}, default_schema="toll")) is first
    assert "TRUNC" in first.sql.upper() or "//" in first.sql  # integer division, from the catalog's BIGINT
    as_double = translate("SELECT n / 2 FROM t", Catalog(tables={"toll": {"t": {"n": "DOUBLE"}}}, default_schema="toll"))
    assert "TRUNC" not in as_double.sql.upper() and "//" not in as_double.sql


@pytest.mark.parametrize(
    ("value", "java"),
    [(1.0, "1.0"), (20.345, "20.345"), (1e7, "1.0E7"), (1.7959104e9, "1.7959104E9"), (0.0001, "1.0E-4"), (-2.5e-5, "-2.5E-5")],
)
def test_doubles_print_as_java_does(value: float, java: str) -> None:
    assert java_double(value) == java


def test_joda_patterns() -> None:
    assert joda_to_strftime("yyyy-MM-dd'T'HH:mm:ss.SSS") == "%Y-%m-%dT%H:%M:%S.%g"
    assert joda_to_strftime("EEE, d MMM yy h:mm a") == "%a, %-d %b %y %-I:%M %p"
    with pytest.raises(UsageError, match="not supported by the local engine"):
        joda_to_strftime("xxxx")


def test_a_cli_run_finds_its_translation_on_disk(toll_process, lake, home: Path) -> None:
    """The second `toll query busiest` process reads the translation from <home>/catalog/, never importing sqlglot."""
    probe = (
        "import sys, runpy; sys.argv = ['toll', '--home', sys.argv[1], 'query', 'busiest', '--format', 'json'];"
        "\ntry:\n    runpy.run_module('tollcli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('SQLGLOT' if 'sqlglot' in sys.modules else 'NO-SQLGLOT', file=sys.stderr)"
    )
    import subprocess
    import sys

    runs = [
        subprocess.run([sys.executable, "-c", probe, str(home)], capture_output=True, text=True, timeout=120) for _ in range(2)
    ]
    assert [r.stderr.strip().splitlines()[-1] for r in runs] == ["SQLGLOT", "NO-SQLGLOT"], [r.stderr for r in runs]
    assert json.loads(runs[0].stdout) == json.loads(runs[1].stdout)
    assert (home / "catalog" / "translations.json").exists()


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """The modules a source file imports (at its top only, or anywhere, functions included)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body if top_level_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_only_the_translator_imports_sqlglot_and_it_imports_nothing_back() -> None:
    """What lets a cached query skip sqlglot (the test above) without an import cycle: athena and
    dialect_names never import sqlglot; dialect_rewrites imports it at its top and takes what it shares
    from dialect_names, never from athena, which imports the translator only inside a function."""
    import tollcli.backends.local.dialect

    folder = Path(tollcli.backends.local.dialect.__file__).parent
    front, shared, translator = (folder / f"{name}.py" for name in ("dialect", "dialect_names", "dialect_rewrites"))
    for light in (front, shared):
        assert not {m for m in _imports(light, top_level_only=False) if m.split(".")[0] == "sqlglot"}, light.name
    front_anywhere = _imports(front, top_level_only=False)
    assert "tollcli.backends.local.dialect_rewrites" in front_anywhere - _imports(front, top_level_only=True)
    assert "sqlglot" in _imports(translator, top_level_only=True)
    translator_anywhere = _imports(translator, top_level_only=False)
    assert "tollcli.backends.local.dialect_names" in translator_anywhere
    assert "tollcli.backends.local.dialect" not in translator_anywhere


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM no_such_table", "SQL error: table no_such_table does not exist"),
        ("SELECT toll, nope FROM lab_toll_data_stream", "SQL error: column 'nope' cannot be resolved"),
        ("SELEC 1", "SQL error: syntax error at or near 'SELEC'"),
        ("SELECT (1", "SQL error: syntax error at line 1, column 9 near '1' (Expecting ))"),
    ],
)
def test_query_mistakes_are_named_in_athenas_terms(toll, lake, sql: str, message: str) -> None:
    result = toll("query", "sql", sql)
    assert result.exit_code == 2 and result.stderr.strip() == f"toll: error: {message}"


def test_explain_translates_the_query_it_explains(toll, lake) -> None:
    result = toll("query", "sql", "EXPLAIN SELECT count(*) / 2 FROM lab_toll_data_stream WHERE regexp_like(toll, '^TX')")
    assert result.exit_code == 0, result.output


def test_question_shares_are_the_same_double_on_both_engines(lake, home: Path) -> None:
    """share_pct is `round(100 * CAST(count(*) AS double) / total, 2)`: a double in Athena too (Trino's
    round(double, 2) rounds half away from zero), not a DECIMAL whose scale would cut it to 1 digit."""
    from collections import Counter

    from athena_corpus import dround
    from tollcli.backends.local import LocalBackend
    from tollcli.config import Settings
    from tollcli.questions import question_sql, run_question

    assert "CAST(count(*) AS double)" in question_sql("busiest") and "CAST(count(*) AS double)" in question_sql("most-active")
    backend = LocalBackend(Settings(home=home))
    stations = Counter(s for _, s, _ in make_records(300))
    answer = run_question(backend, "busiest")
    assert {row[0]: row[2] for row in answer.rows} == {s: dround(100 * n / 300, 2) for s, n in stations.items()}
    assert any(round(share * 10) != share * 10 for share in (row[2] for row in answer.rows))  # two decimals survive


def test_typed_columns_divide_and_cast_as_trino(home: Path) -> None:
    """The catalog's column types reach the translation: an INTEGER column divides as an integer, a
    DOUBLE column casts to bigint half away from zero (DuckDB alone gives 2 for 2.5 and 3.5 for 7 / 2)."""
    from tollcli.state import Resource

    backend = set_up_home(home)
    scores = home / "anomaly" / "scores"
    scores.mkdir(parents=True)
    rows = [
        {"window_start": "2026-11-28T08:00:00Z", "station": "TX45", "vehicle_count": 7, "anomaly_score": 2.5},
        {"window_start": "2026-11-28T08:00:10Z", "station": "TX45", "vehicle_count": -7, "anomaly_score": -2.5},
    ]
    (scores / "part-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    columns = {"window_start": "VARCHAR", "station": "VARCHAR", "vehicle_count": "INTEGER", "anomaly_score": "DOUBLE"}
    ledger = backend.require_ledger()
    ledger.record(
        Resource(
            kind="table", name="toll.anomaly_scores", settings={"columns": columns, "location": str(scores), "format": "jsonl"}
        )
    )
    result = backend.query(
        "SELECT vehicle_count / 2, CAST(anomaly_score AS bigint), vehicle_count * 1.5, avg(vehicle_count) OVER () "
        "FROM anomaly_scores ORDER BY window_start"
    )
    assert result.columns == ["_col0", "_col1", "_col2", "_col3"]
    assert [tuple(map(str, r)) for r in result.rows] == [("3", "3", "10.5", "0.0"), ("-3", "-3", "-10.5", "0.0")]


def test_a_zone_other_than_utc_in_the_data_is_refused_not_shifted(toll, home: Path) -> None:
    """A line from elsewhere with +05:30: Trino would show 23:30 +05:30; the local engine says it cannot."""
    backend = set_up_home(home)
    folder = backend.bucket_path / "2026/11/28/18"
    folder.mkdir(parents=True)
    (folder / "toll-data-stream-1-elsewhere").write_text(
        "2026-11-28T18:00:00.000Z,TX45,AAA\n2026-11-28T23:30:00+05:30,TX45,BBB\n"
    )
    refused = toll("query", "sql", 'SELECT "user", hour(from_iso8601_timestamp(date)) FROM lab_toll_data_stream')
    assert refused.exit_code == 2
    assert refused.stderr.strip() == (
        "toll: error: not supported by the local engine (Athena has it): "
        "from_iso8601_timestamp with a time zone offset other than UTC"
    )
    under_try = toll("query", "sql", "SELECT try(to_iso8601(from_iso8601_timestamp(date))) FROM lab_toll_data_stream")
    assert under_try.exit_code == 2 and "time zone offset other than UTC" in under_try.stderr
    # Comparisons need only the instant (Trino compares instants): both lines are at 18:00 UTC.
    compared = toll(
        "query",
        "sql",
        "SELECT count(*) FROM lab_toll_data_stream WHERE try(from_iso8601_timestamp(date)) = "
        "from_iso8601_timestamp('2026-11-28T18:00:00Z')",
        "--format",
        "csv",
    )
    assert compared.exit_code == 0, compared.output
    assert compared.stdout.splitlines() == ['"_col0"', '"2"']
    utc_only = toll(
        "query",
        "sql",
        "SELECT hour(from_iso8601_timestamp(date)), from_iso8601_timestamp(date) AT TIME ZONE 'UTC' FROM lab_toll_data_stream "
        "WHERE \"user\" = 'AAA'",
        "--format",
        "csv",
    )
    assert utc_only.exit_code == 0, utc_only.output
    assert utc_only.stdout.splitlines()[1] == '"18","2026-11-28 18:00:00.000 UTC"'


def test_utc_timestamps_keep_athenas_answer(toll, lake) -> None:
    sql = (
        "SELECT from_iso8601_timestamp('2026-11-28T23:30:00+00:00'), hour(from_iso8601_timestamp('2026-11-28T23:30:00Z')), "
        "timestamp '2026-12-01 00:00:00 UTC' AT TIME ZONE 'UTC', with_timezone(timestamp '2026-12-01 00:00:00', 'UTC'), "
        "from_unixtime(0, 'UTC')"
    )
    result = toll("query", "sql", sql, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        '"2026-11-28 23:30:00.000 UTC","23","2026-12-01 00:00:00.000 UTC","2026-12-01 00:00:00.000 UTC",'
        '"1970-01-01 00:00:00.000 UTC"'
    )


def test_typeof_names_trinos_types(toll, lake) -> None:
    """Trino: a literal 'abc' is varchar(3), 1.5 decimal(2,1), 1 integer; a Hive string column is varchar."""
    sql = (
        "SELECT typeof(1), typeof('abc'), typeof(1.5), typeof(1e0), typeof(3000000000), typeof(true), typeof(NULL), "
        "typeof(count(*)), typeof(toll), typeof(CAST(1 AS varchar(3))), typeof(from_iso8601_timestamp(min(date))) "
        "FROM lab_toll_data_stream GROUP BY toll LIMIT 1"
    )
    result = toll("query", "sql", sql, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert next(csv.reader(io.StringIO(result.stdout.splitlines()[1]))) == [
        "integer",
        "varchar(3)",
        "decimal(2,1)",
        "double",
        "bigint",
        "boolean",
        "unknown",
        "bigint",
        "varchar",
        "varchar(3)",
        "timestamp(3) with time zone",
    ]
