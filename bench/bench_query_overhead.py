"""Benchmark: each question through `run_question` against the same question written by hand in DuckDB,
over the files of an existing home (kept by `bench_query.py --keep DIR`, compacted or not).

    PYTHONPATH=src /work/venv/bin/python bench/bench_query_overhead.py --home DIR [--repeat 15]

Both run in one process, alternated (toll, direct, toll, direct, ...) so that they share the
machine's noise; prints the medians, toll/direct, and toll's fixed cost per query (the
difference). Run it with another checkout's sources first on PYTHONPATH to compare two versions
on the same files.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import duckdb
from bench_query import DIRECT_SQL, bucket_files

from tollcli.backends.local import LocalBackend
from tollcli.backends.local.engine import csv_reader_sql, ddl_columns, sql_list
from tollcli.config import Settings
from tollcli.questions import QUESTIONS, run_question


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    backend = LocalBackend(Settings(home=args.home))
    parts = sorted((args.home / "compacted").rglob("*.parquet"))
    objects = bucket_files(backend.bucket_path)
    if parts and objects:
        raise SystemExit("the home holds both Parquet parts and CSV objects: compact it or use a fresh one")
    source = f"read_parquet({sql_list(parts)})" if parts else csv_reader_sql(objects, ddl_columns())
    direct = duckdb.connect()
    print(f"{args.home}: {len(parts)} Parquet parts, {len(objects)} CSV objects; load average {os.getloadavg()[0]:.1f}")
    print(f"{'question':<12} {'toll ms':>8} {'direct ms':>10} {'toll/direct':>12} {'fixed ms':>9}")
    for name in QUESTIONS:
        sql = DIRECT_SQL[name].format(source=source)
        for _ in range(2):  # warm both (engine, views, file cache)
            run_question(backend, name)
            direct.execute(sql).fetchall()
        ours, theirs = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            run_question(backend, name)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            direct.execute(sql).fetchall()
            theirs.append(time.perf_counter() - started)
        toll, base = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
        print(f"{name:<12} {toll:>8.1f} {base:>10.1f} {toll / base:>11.2f}x {toll - base:>9.1f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
