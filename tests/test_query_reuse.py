"""What one process keeps between queries (checked manifest, object index, views, the query thread)
never hides a change: every question asked again in the same process sees new objects, a
compaction, a rewritten manifest or a link planted where a Parquet part was, and a query stopped by
its deadline leaves the kept worker able to answer the next one."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from test_queries import START, make_records, set_up_home, write_objects
from tollcli.backends.local import LocalBackend
from tollcli.backends.local.compact import compact
from tollcli.backends.local.engine import run_with_deadline, sql_string
from tollcli.backends.local.manifest import CompactionManifest
from tollcli.errors import TollError
from tollcli.questions import run_question

SLOW = "SELECT count(*) FROM range(100000000000000)"  # minutes of work: only a deadline ends it


def station_counts(backend: LocalBackend) -> dict[str, int]:
    return {row[0]: row[1] for row in run_question(backend, "busiest").rows}


@pytest.fixture
def compacted(tmp_path: Path) -> tuple[LocalBackend, list[tuple[str, str, str]]]:
    """A home whose 6000 records are all compacted, asked once (so everything it keeps is warm)."""
    backend = set_up_home(tmp_path / "home")
    records = make_records(6000, rate=1.0)  # 100 minutes: two hour folders, two parts
    write_objects(backend.bucket_path, records, per_object=1500)
    compact(backend)
    assert station_counts(backend) == dict(Counter(s for _, s, _ in records))
    return backend, records


def test_the_same_question_again_sees_new_objects_and_each_compaction(compacted: tuple[LocalBackend, list]) -> None:
    backend, records = compacted
    assert station_counts(backend) == station_counts(backend)  # nothing changed: the same answer
    later = make_records(2000, rate=1.0, start=START + timedelta(hours=3), seed=3)
    paths = write_objects(backend.bucket_path, later, per_object=1000)
    everything = dict(Counter(s for _, s, _ in records + later))
    assert station_counts(backend) == everything
    paths[0].unlink()
    assert run_question(backend, "busiest").total_records == 7000
    compact(backend)
    assert run_question(backend, "busiest").total_records == 7000
    assert run_question(backend, "most-active").total_records == 7000


def test_a_manifest_rewritten_after_a_query_is_checked_again(compacted: tuple[LocalBackend, list], tmp_path: Path) -> None:
    backend, _records = compacted
    manifest = backend.home / "compacted" / "lab_toll_data_stream" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["parts"][0]["parquet"] = "../../../outside.parquet"
    manifest.write_text(json.dumps(data))
    with pytest.raises(TollError, match="refusing it"):
        run_question(backend, "busiest")
    data["parts"][0]["parquet"] = "/etc/passwd"
    manifest.write_text(json.dumps(data))
    with pytest.raises(TollError, match="refusing it"):
        CompactionManifest.load(backend, "lab_toll_data_stream")


@pytest.mark.parametrize("planted", ["part-link", "folder-link"])
def test_a_link_planted_for_a_part_after_a_query_is_refused(
    compacted: tuple[LocalBackend, list], tmp_path: Path, planted: str
) -> None:
    backend, _records = compacted
    part = CompactionManifest.load(backend, "lab_toll_data_stream").parquet_paths()[0]
    outside = tmp_path / "outside"
    outside.mkdir()
    con = duckdb.connect()
    evil = "SELECT '2026-11-28T08:00:00.000Z' AS date, 'EVIL' AS toll, 'X' AS user"
    con.execute(f"COPY ({evil}) TO {sql_string(outside / part.name)}")
    con.close()
    if planted == "part-link":
        part.unlink()
        part.symlink_to(outside / part.name)
    else:  # the hour folder, moved out and linked back (the same files, now outside the home)
        hour = part.parent
        shutil.move(str(hour), str(outside / "hour"))
        hour.symlink_to(outside / "hour")
    with pytest.raises(TollError, match="a link"):
        run_question(backend, "busiest")


def test_a_stopped_query_leaves_the_kept_worker_able_to_answer() -> None:
    con = duckdb.connect()
    threads = threading.active_count()
    for _ in range(3):
        with pytest.raises(TollError, match=r"query stopped after 0.2 s"):
            run_with_deadline(con, SLOW, 0.2)
        assert run_with_deadline(con, "SELECT 40 + 2 AS answer", 5) == (["answer"], [(42,)])
        with pytest.raises(duckdb.CatalogException):
            run_with_deadline(con, "SELECT * FROM no_such_table", 5)  # an error reaches the caller as itself
    assert threading.active_count() <= threads + 1  # one kept worker, not one thread per query
    con.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_runs_its_queries_on_a_worker_of_its_own() -> None:
    con = duckdb.connect()
    assert run_with_deadline(con, "SELECT 1 AS one", 5) == (["one"], [(1,)])  # a worker is kept now
    child = os.fork()
    if child == 0:  # the parent's worker thread does not exist here: a kept one would never answer
        try:
            ok = run_with_deadline(duckdb.connect(), "SELECT 2 AS two", 5) == (["two"], [(2,)])
        finally:
            os._exit(0 if ok else 3)
    deadline = time.monotonic() + 20
    while (done := os.waitpid(child, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        pytest.fail("the forked child's query never came back")
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert run_with_deadline(con, "SELECT 3 AS three", 5) == (["three"], [(3,)])
    con.close()
