"""Benchmark: the workshop's questions over 10,000,000 records of local CSV, before and after `toll compact`.

    /work/venv/bin/python bench/bench_query.py [--records 10000000] [--repeat 5] [--keep DIR] [--pandas]

Writes the records through the local delivery stream (`LocalDeliveryStream`, as `toll generate
--backfill` does: ~1 MB objects under YYYY/MM/DD/HH/, each recorded well-formed as it is written),
one record per 10 ms of event time, workshop weights, made fast with numpy. Then, in one run:
- the first `toll query busiest` process after the backfill (nothing to check: every object is
  toll's own; the object index and kept translations removed before each) against warm ones,
  alternated, and the first when the same objects come from elsewhere (delivery log set aside:
  each object is checked, as every first query did before);
- each question's median time through `run_question` (translation, catalog, views, DuckDB);
- the baseline: the same question written by hand in DuckDB's SQL, straight over the same files
  (`read_csv` with the same options, one connection kept open), median time in the same run;
- the translation alone, uncached and cached;
- `toll compact`, then both again over the Parquet parts.
Prints the times and the ratios. `--pandas` adds the earlier pandas baseline (slow).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tollcli.backends.local import LocalBackend, dialect
from tollcli.backends.local.compact import compact
from tollcli.backends.local.delivery import LocalDeliveryStream
from tollcli.backends.local.engine import csv_reader_sql, ddl_columns, local_catalog
from tollcli.backends.local.layout import delivered_log_path
from tollcli.config import Settings
from tollcli.questions import QUESTIONS, question_sql, run_question
from tollcli.records import RecordChunk

STATIONS = np.array(["183A", "SH130", "TX45", "TX290", "Exit79", "Exit29", "Exit620", "Exit66", "35North", "35South"])
WEIGHTS = np.array([0.1] * 8 + [0.09, 0.01])
PLATES = np.array(["6LD7N", "JQ3QZ5", "J80DP4", "T4OFLD", "AECZV8", "EDMTT", "ULORSTX", "XHRRET", "UMC6IZ", "XSUEJA"])


def write_bucket(backend: LocalBackend, records: int, *, seed: int = 0, chunk: int = 100_000) -> int:
    """`records` lines `date,toll,user\\n` through the local delivery stream; returns the object count."""
    rng = np.random.default_rng(seed)
    stream = LocalDeliveryStream(
        bucket=backend.bucket_path,
        stream_name="toll-data-stream",
        buffer_bytes=1 << 20,
        buffer_seconds=900,
        realtime=False,
        delivered_log=delivered_log_path(backend),
    )
    start = np.datetime64("2026-11-27T00:00:00.000")
    for first in range(0, records, chunk):
        count = min(chunk, records - first)
        offsets = (np.arange(first, first + count) * 10).astype("timedelta64[ms]")
        moments = start + offsets
        dates = np.char.add(np.datetime_as_string(moments, unit="ms"), "Z")
        stations = STATIONS[rng.choice(len(STATIONS), count, p=WEIGHTS / WEIGHTS.sum())]
        plates = PLATES[rng.integers(0, len(PLATES), count)]
        lines = np.char.add(np.char.add(np.char.add(np.char.add(dates, ","), stations), ","), np.char.add(plates, "\n"))
        epoch = (moments - np.datetime64("1970-01-01T00:00:00.000")).astype(np.int64) / 1000.0
        stream.write(RecordChunk(lines="".join(lines.tolist()).encode(), count=count, event_times=epoch))
    stream.close()
    return stream.stats.objects


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def median_time(call, repeat: int) -> float:
    return statistics.median(timed(call)[0] for _ in range(repeat))


def pandas_baseline(bucket: Path) -> dict[str, float]:
    """read_csv of every object, then the groupby each question needs; seconds per question (NaN without pandas)."""
    try:
        import pandas as pd
    except ImportError:
        print("pandas is not installed: its baseline is skipped")
        return dict.fromkeys(QUESTIONS, float("nan"))

    files = sorted(p for p in bucket.rglob("*") if p.is_file() and not p.name.startswith("."))
    read, frame = timed(
        lambda: pd.concat(
            (pd.read_csv(f, header=None, names=["date", "toll", "user"], dtype=str) for f in files), ignore_index=True
        )
    )
    return {
        "busiest": read + timed(lambda: frame.groupby("toll").size().sort_values(ascending=False))[0],
        "most-active": read + timed(lambda: frame.groupby("user").size().sort_values(ascending=False))[0],
        "quiet": read + timed(lambda: frame.groupby("toll").size().median())[0],
    }


DIRECT_SQL = {
    # The questions written by hand in DuckDB's SQL over the files: the baseline "direct DuckDB query".
    "busiest": "SELECT toll AS station, count(*) AS records, round(100 * count(*) / sum(count(*)) OVER (), 2) AS share_pct, "
    "rank() OVER (ORDER BY count(*) DESC) AS station_rank, sum(count(*)) OVER () AS total_records "
    "FROM {source} GROUP BY toll ORDER BY station_rank, station",
    "most-active": 'SELECT "user" AS plate, count(*) AS records, round(100 * count(*) / sum(count(*)) OVER (), 2) AS share_pct, '
    "rank() OVER (ORDER BY count(*) DESC) AS plate_rank, sum(count(*)) OVER () AS total_records "
    'FROM {source} GROUP BY "user" ORDER BY plate_rank, plate',
    "quiet": "SELECT toll AS station, count(*) AS records FROM {source} GROUP BY toll ORDER BY records, station",
}


def direct_duckdb(sources: str) -> dict[str, float]:
    """Each question's hand-written DuckDB SQL over `sources`; median seconds (one connection, kept)."""
    import duckdb

    con = duckdb.connect()
    times = {}
    for name, sql in DIRECT_SQL.items():
        query = sql.format(source=sources)
        times[name] = median_time(lambda q=query: con.execute(q).fetchall(), ARGS.repeat)
    con.close()
    return times


def toll_cli(home: Path, *args: str) -> None:
    """One `toll` process (this checkout's sources), as a user runs it."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, "-m", "tollcli", "--home", str(home), *args], check=True, env=env, capture_output=True)


def forget_checks(home: Path) -> None:
    """Back to the state right after a backfill: no object index, no kept translations."""
    for name in ("lab_toll_data_stream.objects.json", "translations.json"):
        (home / "catalog" / name).unlink(missing_ok=True)


def time_first_and_warm(home: Path) -> float:
    """`toll query busiest` processes, first (after `forget_checks`) and warm, alternated to share the
    machine's noise; prints both medians; returns the warm one."""
    firsts, warms = [], []
    for _ in range(ARGS.repeat):
        forget_checks(home)
        firsts.append(timed(lambda: toll_cli(home, "query", "busiest"))[0])
        warms.append(timed(lambda: toll_cli(home, "query", "busiest"))[0])
    first, warm = statistics.median(firsts), statistics.median(warms)
    print(
        f"`toll query busiest` processes, median of {ARGS.repeat}: first after the backfill {first:.2f} s, "
        f"warm {warm:.2f} s: first/warm {first / warm:.2f}x"
    )
    return warm


def bucket_files(bucket: Path) -> list[Path]:
    return sorted(p for p in bucket.rglob("*") if p.is_file() and not p.name.startswith("."))


def translation_cost(backend: LocalBackend) -> tuple[float, float]:
    """Seconds to translate the busiest question: uncached (cache cleared each time), cached."""
    sql = question_sql("busiest")
    catalog = local_catalog(backend)

    def uncached() -> None:
        dialect._MEMORY.clear()
        dialect.translate(sql, catalog)  # no cache_dir: sqlglot every time

    cold = median_time(uncached, 5)
    dialect.translate(sql, catalog)
    warm = median_time(lambda: dialect.translate(sql, catalog), 50)
    return cold, warm


def report(title: str, ours: dict[str, float], direct: dict[str, float]) -> None:
    print(
        f"\n{title}: median of {ARGS.repeat} runs, seconds (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(f"{'question':<12} {'toll':>7} {'direct DuckDB':>14} {'toll/direct':>12}")
    for name in QUESTIONS:
        print(f"{name:<12} {ours[name]:>7.3f} {direct[name]:>14.3f} {ours[name] / direct[name]:>11.2f}x")


ARGS = argparse.Namespace(repeat=5)


def main() -> None:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="Use this folder as the home and keep it.")
    parser.add_argument("--pandas", action="store_true", help="Also time the pandas baseline (slow).")
    ARGS = parser.parse_args()

    home = ARGS.keep or Path(tempfile.mkdtemp(prefix="toll-bench-")) / "home"
    try:
        backend = LocalBackend(Settings(home=home))
        backend.setup(buffer_mb=1, buffer_seconds=60)
        made, objects = timed(lambda: write_bucket(backend, ARGS.records))
        print(f"{ARGS.records:,} records in {objects} objects delivered in {made:.1f} s ({home})")

        warm = time_first_and_warm(home)
        catalog = home / "catalog"
        (catalog / "delivered.jsonl").rename(catalog / "delivered.jsonl.aside")
        forget_checks(home)
        foreign = timed(lambda: toll_cli(home, "query", "busiest"))[0]
        print(f"  the same objects from elsewhere (each checked, as before): {foreign:.2f} s, {foreign / warm:.2f}x warm")
        (catalog / "delivered.jsonl.aside").rename(catalog / "delivered.jsonl")
        assert run_question(backend, "busiest").total_records == ARGS.records

        translate_cold, translate_warm = translation_cost(backend)
        print(f"translation of busiest: {translate_cold * 1000:.1f} ms uncached, {translate_warm * 1e6:.1f} us cached")

        csv_times = {name: median_time(lambda n=name: run_question(backend, n), ARGS.repeat) for name in QUESTIONS}
        source = csv_reader_sql(bucket_files(backend.bucket_path), ddl_columns())
        report("CSV", csv_times, direct_duckdb(source))
        if ARGS.pandas:
            baseline = pandas_baseline(backend.bucket_path)
            print("pandas: " + ", ".join(f"{n} {baseline[n]:.2f} s ({baseline[n] / csv_times[n]:.1f}x toll)" for n in QUESTIONS))

        compacted, result = timed(lambda: compact(backend))
        print(f"\ntoll compact: {compacted:.1f} s, {result.objects_compacted} objects -> {result.parts_written} Parquet parts")
        assert run_question(backend, "busiest").total_records == ARGS.records
        parquet_times = {name: median_time(lambda n=name: run_question(backend, n), ARGS.repeat) for name in QUESTIONS}
        parts = sorted(p for p in (home / "compacted").rglob("*.parquet"))
        from tollcli.backends.local.engine import sql_list

        report("Parquet", parquet_times, direct_duckdb(f"read_parquet({sql_list(parts)})"))
    finally:
        if ARGS.keep is None:
            shutil.rmtree(home.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
