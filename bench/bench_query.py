"""Benchmark: the workshop's questions over 10,000,000 records of local CSV, before and after `toll compact`.

    /work/venv/bin/python bench/bench_query.py [--records 10000000] [--repeat 5] [--keep DIR]

Writes the records the way the delivery stream lays them out (~1 MB objects under YYYY/MM/DD/HH/,
one record per 10 ms of event time, workshop weights), made fast with numpy. Then, in one run:
- each question's median time through `run_question` on the CSV objects (after one cold query that
  checks every object once and fills the object index);
- a pandas baseline over the same files: `read_csv` of every object plus a `groupby` per question;
- `toll compact`, then each question's median time again on the Parquet parts.
Prints the times and the ratios; pandas is only needed here, not at run time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from tollcli.backends.local import LocalBackend
from tollcli.compact import compact
from tollcli.config import Settings
from tollcli.queries import QUESTIONS, run_question

STATIONS = np.array(["183A", "SH130", "TX45", "TX290", "Exit79", "Exit29", "Exit620", "Exit66", "35North", "35South"])
WEIGHTS = np.array([0.1] * 8 + [0.09, 0.01])
PLATES = np.array(["6LD7N", "JQ3QZ5", "J80DP4", "T4OFLD", "AECZV8", "EDMTT", "ULORSTX", "XHRRET", "UMC6IZ", "XSUEJA"])


def write_bucket(bucket: Path, records: int, *, seed: int = 0, object_bytes: int = 1 << 20) -> int:
    """`records` lines `date,toll,user\\n` in ~1 MB objects, Firehose keys; returns the object count."""
    rng = np.random.default_rng(seed)
    moments = np.datetime64("2026-11-27T00:00:00.000") + (np.arange(records) * 10).astype("timedelta64[ms]")
    dates = np.char.add(np.datetime_as_string(moments, unit="ms"), "Z")
    stations = STATIONS[rng.choice(len(STATIONS), records, p=WEIGHTS / WEIGHTS.sum())]
    plates = PLATES[rng.integers(0, len(PLATES), records)]
    lines = np.char.add(np.char.add(np.char.add(np.char.add(dates, ","), stations), ","), np.char.add(plates, "\n"))
    per_object = max(1, object_bytes // int(np.char.str_len(lines[:1000]).mean()))
    objects = 0
    for start in range(0, records, per_object):
        first = moments[start].astype(object)
        folder = bucket / f"{first:%Y/%m/%d/%H}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"toll-data-stream-1-{first:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"
        (folder / name).write_bytes("".join(lines[start : start + per_object].tolist()).encode())
        objects += 1
    return objects


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="Use this folder as the home and keep it.")
    args = parser.parse_args()

    home = args.keep or Path(tempfile.mkdtemp(prefix="toll-bench-")) / "home"
    try:
        backend = LocalBackend(Settings(home=home))
        backend.setup(buffer_mb=1, buffer_seconds=60)
        made, objects = timed(lambda: write_bucket(backend.bucket_path, args.records))
        print(f"{args.records:,} records in {objects} objects written in {made:.1f} s ({home})")

        cold, answer = timed(lambda: run_question(backend, "busiest"))
        assert answer.total_records == args.records, answer.total_records
        print(f"first query (checks every object once, fills the object index): {cold:.2f} s")
        csv_times = {name: median_time(lambda n=name: run_question(backend, n), args.repeat) for name in QUESTIONS}
        baseline = pandas_baseline(backend.bucket_path)
        compacted, report = timed(lambda: compact(backend))
        print(f"toll compact: {compacted:.1f} s, {report.objects_compacted} objects -> {report.parts_written} Parquet parts")
        assert run_question(backend, "busiest").total_records == args.records
        parquet_times = {name: median_time(lambda n=name: run_question(backend, n), args.repeat) for name in QUESTIONS}

        print(f"\nmedian of {args.repeat} runs, seconds (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        print(f"{'question':<12} {'CSV':>7} {'Parquet':>8} {'CSV/Parquet':>12} {'pandas':>8} {'pandas/CSV':>11}")
        for name in QUESTIONS:
            speedup = csv_times[name] / parquet_times[name]
            print(
                f"{name:<12} {csv_times[name]:>7.3f} {parquet_times[name]:>8.3f} {speedup:>11.1f}x"
                f" {baseline[name]:>8.2f} {baseline[name] / csv_times[name]:>10.1f}x"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(home.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
