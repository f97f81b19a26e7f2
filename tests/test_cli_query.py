"""`toll query ...` and `toll compact` through CliRunner and as a real process."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from test_queries import BAD_LINES, make_records, set_up_home, write_objects
from tollcli.backends.local import LocalBackend


@pytest.fixture
def lake(home: Path) -> list[tuple[str, str, str]]:
    """A set-up home whose bucket holds 24,000 records on the workshop's weights."""
    backend = set_up_home(home)
    records = make_records(24_000)
    write_objects(backend.bucket_path, records, per_object=6000)
    return records


def test_busiest_table_with_chart(toll, lake) -> None:
    result = toll("query", "busiest", "--chart")
    assert result.exit_code == 0, result.output
    top, count = Counter(s for _, s, _ in lake).most_common(1)[0]
    assert "Which is the busiest toll station?" in result.stdout
    assert top in result.stdout and f"{count:,}" in result.stdout
    assert "█" in result.stdout and "24,000 records" in result.stdout


def test_most_active_json_is_only_json(toll, lake) -> None:
    result = toll("query", "most-active", "--format", "json", "--limit", "3")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    plates = Counter(p for _, _, p in lake)
    assert payload["total_records"] == 24_000 and payload["skipped_rows"] == 0
    assert all(row["records"] == plates[row["plate"]] for row in payload["rows"])
    assert payload["rows"][0]["records"] == plates.most_common(1)[0][1]
    assert "from_iso8601_timestamp" not in payload["sql"] and "lab_toll_data_stream" in payload["sql"]


def test_quiet_csv_names_35south(toll, lake) -> None:
    result = toll("query", "quiet", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["station"] for row in rows if row["quiet"] == "True"] == ["35South"]
    assert len(rows) == 10


def test_time_options(toll, lake) -> None:
    result = toll("query", "busiest", "--since", "2026-11-28T08:10:00Z", "--until", "2026-11-28T08:20:00Z", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total_records"] == 6000  # 10 records/s for 10 minutes
    recent = toll("query", "busiest", "--last", "15m")
    assert recent.exit_code == 0 and "no data yet" in recent.stderr  # the data is from 2026-11-28 08:00


def test_last_ends_now_even_when_records_run_ahead_of_the_clock(toll, home: Path) -> None:
    # a backfill that continued after a home's last event can deliver event times in the future
    backend = set_up_home(home)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    records = make_records(2400, start=now - timedelta(minutes=2))  # 10/s: 2 minutes before now, 2 minutes ahead
    write_objects(backend.bucket_path, records, per_object=600)
    result = toll("query", "busiest", "--last", "1m", "--format", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    # 10 records/s: about 600 in the last minute (a little less as the clock moved on), never the 1,800 up to now + 2 min
    assert 500 <= payload["total_records"] <= 600, payload["total_records"]
    since, until = (datetime.fromisoformat(payload[key].replace("Z", "+00:00")) for key in ("since", "until"))
    assert until - since == timedelta(minutes=1) and now <= until <= datetime.now(timezone.utc)
    table = toll("query", "busiest", "--last", "1m")
    assert table.exit_code == 0 and re.search(r"records from \S+Z until \S+Z", table.stdout), table.stdout
    refused = toll("query", "busiest", "--last", "1m", "--until", "2026-11-28T08:00:00Z")
    assert refused.exit_code == 2 and "--until" in refused.stderr


def test_sql_command_formats(toll, lake) -> None:
    sql = "SELECT toll, count(*) AS n FROM lab_toll_data_stream GROUP BY toll ORDER BY n DESC, toll LIMIT 2"
    table = toll("query", "sql", sql)
    assert table.exit_code == 0, table.output
    as_json = json.loads(toll("query", "sql", sql, "--format", "json").stdout)
    assert as_json["columns"] == ["toll", "n"] and len(as_json["rows"]) == 2
    assert as_json["rows"][0]["toll"] in table.stdout
    as_csv = toll("query", "sql", sql, "--format", "csv").stdout.splitlines()
    assert as_csv[0] == '"toll","n"' and len(as_csv) == 3  # Athena's result CSV quotes every value


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["query", "sql", "DROP TABLE lab_toll_data_stream"], "read-only"),
        (["query", "sql", "COPY lab_toll_data_stream TO 'x.csv'"], "read-only"),
        (["query", "sql", "ATTACH 'x.db'"], "read-only"),
        (["query", "sql", "SELEC 1"], "syntax error"),
        (["query", "sql", "SELECT * FROM nowhere"], "nowhere"),
        (["query", "busiest", "--last", "fifteen"], "duration"),
        (["query", "busiest", "--since", "noon"], "--since"),
        (["query", "busiest", "--limit", "0"], "--limit"),
        (["query", "loudest"], "loudest"),
        (["query", "busiest", "--timeout", "2 fortnights"], "--timeout"),
        (["query", "sql", "--timeout", "5m30", "SELECT 1"], "--timeout"),  # only a lone number may leave out its unit
    ],
)
def test_bad_input_is_one_line_and_exit_2(toll, lake, args, fragment) -> None:
    result = toll(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toll: error:") and fragment in lines[0]


@pytest.mark.parametrize(
    ("timeout", "says"),
    [
        ("1h30", "cannot read --timeout: the duration '1h30'; use e.g. 90s, 5m"),  # the parser's own reason, not "above 0"
        ("1e9", "cannot read --timeout: the duration '1e9'"),
        ("\u0665m", "cannot read --timeout"),  # an Arabic-Indic 5 is no digit here
        ("0s", "--timeout '0s' must be more than zero"),
        ("0", "--timeout must be a duration above 0"),
        ("inf", "--timeout must be a duration above 0"),
    ],
)
def test_a_bad_timeout_says_what_is_wrong_with_it(toll, lake, timeout, says) -> None:
    for args in (["query", "busiest"], ["query", "sql", "SELECT 1"]):
        result = toll(*args[:2], "--timeout", timeout, *args[2:])
        assert result.exit_code == 2, result.output
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert result.stderr.startswith("toll: error: ") and says in result.stderr, result.stderr


def test_timeout_takes_any_duration_and_a_bare_number_is_seconds(toll, lake) -> None:
    for timeout in ("2m", "90", "1h30m", "5 minutes"):
        result = toll("query", "busiest", "--timeout", timeout, "--format", "json")
        assert result.exit_code == 0, (timeout, result.output)
        assert json.loads(result.stdout)["total_records"] == 24_000
    endless = "SELECT count(*) FROM range(100000000000000)"
    for timeout, seconds in (("0.005m", "0.3"), ("0.3", "0.3"), ("300ms", "0.3")):  # the unit is applied: 0.005 min is 0.3 s
        stopped = toll("query", "sql", "--timeout", timeout, endless)
        assert stopped.exit_code == 1, (timeout, stopped.output)
        assert stopped.stderr.strip() == f"toll: error: query stopped after {seconds} s (--timeout)"


def test_before_setup_exit_2(toll, home) -> None:
    result = toll("query", "busiest")
    assert result.exit_code == 2 and f"toll --home {home.resolve()} setup" in result.stderr  # the command that reaches this home


def test_empty_bucket_says_no_data_yet(toll, home) -> None:
    set_up_home(home)
    result = toll("query", "quiet")
    assert result.exit_code == 0 and "no data yet" in result.stderr
    as_json = json.loads(toll("query", "busiest", "--format", "json").stdout)
    assert as_json["rows"] == [] and as_json["total_records"] == 0


def test_bad_rows_warn_and_strict_fails(toll, home) -> None:
    backend = set_up_home(home)
    write_objects(backend.bucket_path, make_records(500), extra=b"".join(BAD_LINES))
    result = toll("query", "busiest")
    assert result.exit_code == 0 and "skipped 5 bad rows " in result.stderr
    strict = toll("query", "busiest", "--strict")
    assert strict.exit_code == 1 and "5 bad rows in the data" in strict.stderr


def test_one_of_a_thing_is_said_in_the_singular(toll, home) -> None:
    """'1 CSV object', '1 Parquet part', '1 bad row': never 'object(s)' nor '1 objects'."""
    backend = set_up_home(home)
    write_objects(backend.bucket_path, make_records(300), extra=BAD_LINES[1])
    query = toll("query", "busiest")
    assert query.exit_code == 0 and "skipped 1 bad row " in query.stderr
    compacted = toll("compact")
    assert compacted.exit_code == 0, compacted.stderr
    said = " ".join((compacted.stdout + compacted.stderr).split())
    assert "Compacted 1 CSV object, 300 rows, " in said and " in 1 Parquet part." in said
    assert "1 bad row left out" in said and "1 object holding them" in said
    assert "(s)" not in said
    again = toll("compact")
    assert again.exit_code == 0 and "Nothing to compact: 300 rows already in 1 Parquet part." in " ".join(again.stdout.split())


def test_compact_asks_the_backends_capabilities_before_anything(toll, lake, home: Path, monkeypatch) -> None:
    """A backend whose `capabilities` say no compaction is refused in one line, and its home is left as it was."""
    monkeypatch.setattr(LocalBackend, "capabilities", replace(LocalBackend.capabilities, compact=False))
    before = {path: path.read_bytes() for path in home.rglob("*") if path.is_file()}
    for args in (["compact"], ["compact", "--format", "json"]):
        result = toll(*args)
        assert result.exit_code == 2, result.output
        assert result.stdout == "" and result.stderr == "toll: error: `toll compact` is not available on the local backend\n"
    assert {path: path.read_bytes() for path in home.rglob("*") if path.is_file()} == before


def test_compact_then_query_as_processes(toll_process, home, lake) -> None:
    """The real command line: compact, the answer does not change, compacting again does nothing."""
    before = toll_process("query", "busiest", "--format", "json")
    assert before.returncode == 0, before.stderr
    compacted = toll_process("compact", "--format", "json")
    assert compacted.returncode == 0, compacted.stderr
    report = json.loads(compacted.stdout)
    assert report["rows"] == 24_000 and report["objects_compacted"] == 4
    after = toll_process("query", "busiest", "--format", "json")
    assert json.loads(after.stdout)["rows"] == json.loads(before.stdout)["rows"]
    again = toll_process("compact")
    assert again.returncode == 0 and "Nothing to compact" in again.stdout
    refused = toll_process("query", "sql", "INSERT INTO lab_toll_data_stream VALUES ('a', 'b', 'c')")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr


def _count_files(bucket: Path, *, since: str = "") -> tuple[Counter, Counter]:
    """Stations and plates counted straight from the delivered objects, without DuckDB."""
    stations: Counter = Counter()
    plates: Counter = Counter()
    for path in bucket.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            for line in path.read_text().splitlines():
                date, station, plate = line.split(",")
                if date >= since:  # same format throughout, so string order is time order
                    stations[station] += 1
                    plates[plate] += 1
    return stations, plates


def test_questions_over_what_toll_generate_delivered(toll, home) -> None:
    """The generator's real objects: answers equal counts taken from the files; the TX45 drop is found."""
    assert toll("setup").exit_code == 0
    first = toll("generate", "--backfill", "--count", "20000", "--seed", "1", "--start", "2026-11-28T08:00:00Z", "--quiet")
    assert first.exit_code == 0, first.output
    stations, plates = _count_files(home / "bucket")
    busiest = json.loads(toll("query", "busiest", "--format", "json").stdout)
    assert {row["station"]: row["records"] for row in busiest["rows"]} == dict(stations)
    active = json.loads(toll("query", "most-active", "--format", "json").stdout)
    assert {row["plate"]: row["records"] for row in active["rows"]} == dict(plates)
    assert json.loads(toll("query", "quiet", "--format", "json").stdout)["flagged"] == ["35South"]

    assert toll("skew", "--drop", "--station", "TX45").exit_code == 0
    second = toll("generate", "--backfill", "--count", "20000", "--seed", "2", "--start", "2026-11-28T09:00:00Z", "--quiet")
    assert second.exit_code == 0, second.output
    quiet = json.loads(toll("query", "quiet", "--since", "2026-11-28T09:00:00Z", "--format", "json").stdout)
    assert sorted(quiet["flagged"]) == ["35South", "TX45"]
    recent, _ = _count_files(home / "bucket", since="2026-11-28T09:00:00")
    assert {row["station"]: row["records"] for row in quiet["rows"] if row["records"]} == dict(recent)


def test_data_prints_literally_not_as_rich_markup(toll, lake) -> None:
    """Values and headers that look like Rich markup print as they are in a table."""
    result = toll("query", "sql", "select array['[red]', 'x'] s, '[bold]hi[/bold]' t, split('a,b', ',') \"[u]h[/u]\"")
    assert result.exit_code == 0, result.output
    for shown in ("[[red], x]", "[bold]hi[/bold]", "[a, b]", "[u]h[/u]"):
        assert shown in result.stdout


def test_a_write_is_refused_by_its_kind(toll, lake) -> None:
    result = toll("query", "sql", "INSERT INTO lab_toll_data_stream VALUES ('a', 'b', 'c')")
    assert result.exit_code == 2
    assert result.stderr.strip() == "toll: error: only read-only queries (SELECT) are allowed here; this is an INSERT statement"


@pytest.mark.parametrize("tampered", ["99999999999999999999", "true", "1.9", '"1"', "[1]", "null", "[]", "2"])
def test_a_live_run_marker_counts_only_as_toll_generate_writes_it(toll, lake, home: Path, tampered: str) -> None:
    """`<home>/live-runs/1.json` names pid 1 (alive here): only `{"pid": 1}` says a run delivers. A pid
    beyond any process's, a bool, a float, a string or another file's pid is no run, and never a traceback."""
    folder = home / "live-runs"
    folder.mkdir(exist_ok=True)
    (folder / "1.json").write_text(f'{{"pid": {tampered}}}' if tampered != "[]" else "[]", encoding="utf-8")
    (folder / f"{os.getpid()}.json").write_text(json.dumps({"pid": os.getpid(), "started": "x"}), encoding="utf-8")
    result = toll("query", "busiest", "--format", "json")
    assert result.exit_code == 0, result.output
    assert f"(pid {os.getpid()})" in result.stderr  # a marker as mark_live_run writes it still counts
    (folder / "1.json").write_text('{"pid": 1}', encoding="utf-8")
    assert f"(pid 1, {os.getpid()})" in toll("query", "busiest", "--format", "json").stderr
