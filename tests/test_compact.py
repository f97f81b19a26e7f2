"""`toll compact`: CSV objects become Parquet, queries read both, no row is lost or counted twice."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from test_queries import BAD_LINES, START, make_records, set_up_home, write_objects
from tollcli.backends.local import LocalBackend
from tollcli.backends.local.compact import compact
from tollcli.backends.local.manifest import CompactionManifest
from tollcli.config import Settings
from tollcli.errors import UsageError
from tollcli.questions import run_question


def station_counts(backend: LocalBackend) -> dict[str, int]:
    return {row[0]: row[1] for row in run_question(backend, "busiest").rows}


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return set_up_home(tmp_path / "home")


def test_compaction_keeps_every_row_and_reads_newer_csv_too(backend: LocalBackend) -> None:
    first = make_records(9000, rate=2.0)  # 75 minutes: two hour folders
    write_objects(backend.bucket_path, first, per_object=2000)
    report = compact(backend)
    assert report.rows == 9000 and report.objects_compacted == 5 and report.parts_written == 2
    assert not [p for p in backend.bucket_path.rglob("*") if p.is_file()]  # the CSV objects are gone
    assert station_counts(backend) == dict(Counter(s for _, s, _ in first))

    later = make_records(3000, rate=2.0, start=START + timedelta(hours=2), seed=9)
    write_objects(backend.bucket_path, later, per_object=1000)
    expected = Counter(s for _, s, _ in first + later)
    assert station_counts(backend) == dict(expected)  # Parquet and the newer CSV together
    since = START + timedelta(hours=2)
    assert run_question(backend, "busiest", since=since).total_records == 3000

    again = compact(backend)
    assert again.objects_compacted == 3 and again.parts_total == 3 and again.rows_total == 12_000
    assert station_counts(backend) == dict(expected)
    assert compact(backend).nothing_to_do


def test_bad_rows_stay_counted_and_their_objects_are_kept_raw(backend: LocalBackend) -> None:
    records = make_records(2000)
    paths = write_objects(backend.bucket_path, records, per_object=1000, extra=b"".join(BAD_LINES))
    raw = {p.relative_to(backend.bucket_path): p.read_bytes() for p in paths}
    before = run_question(backend, "busiest")
    report = compact(backend)
    assert report.skipped_rows == 10 and report.objects_kept_raw == 2
    after = run_question(backend, "busiest")
    assert (after.total_records, after.skipped_rows, after.rows) == (before.total_records, before.skipped_rows, before.rows)
    manifest = CompactionManifest.load(backend, "lab_toll_data_stream")
    for relative, data in raw.items():
        assert (manifest.folder / "rejected" / relative).read_bytes() == data


def test_an_interrupted_compaction_loses_nothing(backend: LocalBackend) -> None:
    records = make_records(4000)
    paths = write_objects(backend.bucket_path, records, per_object=1000)
    expected = dict(Counter(s for _, s, _ in records))
    compact(backend)
    manifest = CompactionManifest.load(backend, "lab_toll_data_stream")
    # Crash after the manifest was written but before the sources were deleted: put them back.
    for path, start in zip(paths, range(0, 4000, 1000)):
        path.write_bytes("".join(f"{d},{s},{p}\n" for d, s, p in records[start : start + 1000]).encode())
    assert station_counts(backend) == expected  # listed sources are not read twice
    # Crash between writing a part and recording it: an orphan part must not be read.
    orphan = manifest.folder / "2026/11/28/08/part-orphan.parquet"
    orphan.write_bytes(manifest.parquet_paths()[0].read_bytes())
    assert station_counts(backend) == expected
    report = compact(backend)  # tidies both
    assert report.nothing_to_do and not orphan.exists() and not any(p.exists() for p in paths)
    assert station_counts(backend) == expected


def test_compaction_is_recorded_for_teardown(backend: LocalBackend) -> None:
    write_objects(backend.bucket_path, make_records(500))
    run_question(backend, "busiest")  # queries keep their object index under the home
    compact(backend)
    ledger = json.loads(backend.settings.ledger_path.read_text())
    kinds = {r["kind"] for r in ledger["resources"]}
    assert {"compacted", "query_cache"} <= kinds
    report = backend.teardown()
    assert not report.failed and not backend.home.exists()


def test_compact_before_setup_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"nothing is set up in .*: run `toll (--home \S+ )?setup` first"):
        compact(LocalBackend(Settings(home=tmp_path / "none")))
