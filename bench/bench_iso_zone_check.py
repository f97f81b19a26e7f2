"""Benchmark: what the time-zone check of `from_iso8601_timestamp` costs on UTC data (all of ours).

    /work/venv/bin/python bench/bench_iso_zone_check.py [--records 3000000] [--repeat 7]

Writes `--records` lines `...T..:..:..mmmZ,TX45,ABC` to one CSV file, then, in one run, alternating:
- baseline: `hour(CAST(date AS TIMESTAMPTZ))` grouped, DuckDB's plain cast (no check: a +05:30
  line would silently read as UTC);
- checked: `hour(toll_from_iso8601_timestamp(date))`, the macro the translation writes outside
  comparisons (a `...Z` line takes its first branch; another offset is refused).
Prints the medians and the ratio checked / baseline.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from tollcli.backends.local.dialect import SESSION_STATEMENTS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=3_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    con = duckdb.connect()
    for statement in SESSION_STATEMENTS:
        con.execute(statement)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lines.csv"
        con.execute(
            "COPY (SELECT strftime(TIMESTAMP '2026-11-28' + to_milliseconds(i * 7919), '%Y-%m-%dT%H:%M:%S.%g') || 'Z' AS date, "
            f"'TX45' AS toll, 'ABC' AS u FROM range({args.records}) AS r(i)) TO '{path}' (HEADER false)"
        )
        source = f"read_csv('{path}', columns={{'date': 'VARCHAR', 'toll': 'VARCHAR', 'user': 'VARCHAR'}}, header=false)"
        queries = {
            "baseline": f"SELECT hour(CAST(date AS TIMESTAMPTZ)) AS h, count(*) FROM {source} GROUP BY h ORDER BY h",
            "checked": f"SELECT hour(toll_from_iso8601_timestamp(date)) AS h, count(*) FROM {source} GROUP BY h ORDER BY h",
        }
        times: dict[str, list[float]] = {name: [] for name in queries}
        answers = {}
        for _ in range(args.repeat):
            for name, sql in queries.items():
                start = time.perf_counter()
                answers[name] = con.sql(sql).fetchall()
                times[name].append(time.perf_counter() - start)
    assert answers["baseline"] == answers["checked"]
    base = statistics.median(times["baseline"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:9s} median {median:.3f} s  ratio {median / base:.3f}")


if __name__ == "__main__":
    main()
